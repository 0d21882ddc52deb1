"""Stage moves made by hand: a marketer moves a profile forward, an admin either way. Scoring moves stages
automatically (always forward); sales' lead actions move them too (crm.lifecycle)."""

from __future__ import annotations

from datetime import datetime

from leadstream import clock
from leadstream.errors import Conflict, NotFound
from leadstream.profiles import Profile, iso_utc
from leadstream.scores import Stage
from leadstream.store import profiles as store

MAX_ATTEMPTS = 4


def change_stage(
    profile_id: str,
    stage: Stage,
    *,
    by: str,
    reason: str | None = None,
    allow_backward: bool = False,
    now: datetime | None = None,
) -> Profile:
    """Move a profile to `stage` by hand. Forward moves (and `other`) are anyone's with the marketing role;
    moving back needs `allow_backward` (the API grants it to admins); moving back before
    marketing-qualified resets engagement, as a rejection does. Raises NotFound, Conflict."""
    for _ in range(MAX_ATTEMPTS):
        profile = store.live_profile(profile_id)
        if profile is None:
            raise NotFound(f"There is no profile {profile_id}.")
        if profile.stage == stage:
            return profile
        backward = _is_backward(profile.stage, stage)
        if backward and not allow_backward:
            raise Conflict(
                f"The profile is {profile.stage.value if profile.stage else 'without a stage'}; moving it "
                f"back to {stage.value} needs the admin role."
            )
        expected = profile.version
        profile.move_to(stage, at=iso_utc(now or clock.now()), by=by, reason=reason)
        if backward and stage.rank < Stage.MQL.rank:
            profile.score.reset_engagement()  # back in nurture: qualify afresh, as after a rejection
        if store.put_profile(profile, expected):
            return profile.model_copy(update={"version": expected + 1})
    raise Conflict("The profile kept changing while the stage was being set; try again.")


# Stages a recycle takes back to nurture: handed over, but sales found no deal to make (yet).
RECYCLED_FROM = frozenset({Stage.MQL, Stage.SQL, Stage.OPPORTUNITY})


def move_forward(profile: Profile, stage: Stage, *, at: str, by: str, reason: str) -> bool:
    """An automatic move (a deal opened or won): forward in the funnel only, never from or to `other`.
    Changes `profile` in place; False when the move is not allowed or not needed."""
    if not stage.is_after(profile.stage):
        return False
    profile.move_to(stage, at=at, by=by, reason=reason)
    return True


def recycle(profile: Profile, *, at: str, by: str, reason: str) -> bool:
    """Back to nurture as a rejected lead goes (stage `lead`, engagement reset, so the person must qualify
    afresh), from marketing-qualified, sales-qualified or opportunity only: a customer stays a customer,
    `other` stays outside the funnel. Changes `profile` in place; False when nothing changed."""
    if profile.stage not in RECYCLED_FROM:
        return False
    profile.move_to(Stage.LEAD, at=at, by=by, reason=reason)
    profile.score.reset_engagement()
    return True


def _is_backward(current: Stage | None, wanted: Stage) -> bool:
    """Back in the funnel; moving to or from `other` (outside the funnel) is neither way."""
    if current is None or Stage.OTHER in (current, wanted):
        return False
    return wanted.rank < current.rank

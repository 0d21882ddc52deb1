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


def _is_backward(current: Stage | None, wanted: Stage) -> bool:
    """Back in the funnel; moving to or from `other` (outside the funnel) is neither way."""
    if current is None or Stage.OTHER in (current, wanted):
        return False
    return wanted.rank < current.rank

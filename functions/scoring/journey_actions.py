"""What a journey step asks the Scorer to change on a profile: a tag, points, a stage.

The profile has one writer (scoring). So a journey's add/remove tag, change score and change stage steps
do not write the profile; each stores one internal tracking event (source `journey`, event
`Journey Action`) whose message id derives from the run and the step's move, and the Scorer applies it
when it scores the event, exactly once through its usual dedupe (leadstream.scores.event_fingerprint).
A repeated step stores the same event id again, which overwrites itself and is not scored again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from leadstream.events import TrackedEvent
from leadstream.models import Model
from leadstream.profiles import Profile
from leadstream.scores import Stage

JOURNEY_SOURCE = "journey"
JOURNEY_ACTION = "Journey Action"
ActionKind = Literal["add_tag", "remove_tag", "change_score", "change_stage"]


class JourneyAction(Model):
    """The event's properties: which change, and which run and step asked for it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    action: ActionKind
    journey_id: str = Field(alias="journeyId")
    run_id: str = Field(alias="runId")
    step_id: str = Field(alias="stepId")
    tag: str | None = None
    points: int | None = None
    stage: Stage | None = None


def action_event(action: JourneyAction, profile: Profile, *, message_id: str, at: datetime) -> TrackedEvent:
    """The tracking event that carries `action` to the Scorer, naming the person by one identity of the
    profile (its user id, else its email, else an anonymous id), as any tracked event would."""
    user_id = profile.user_id
    email = None if user_id else profile.email
    anonymous = next((ref.value for ref in profile.identities if ref.kind == "anon"), None)
    return TrackedEvent(
        source_id=JOURNEY_SOURCE,
        message_id=message_id,
        type="track",
        event=JOURNEY_ACTION,
        user_id=user_id,
        anonymous_id=None if (user_id or email) else anonymous,
        properties=action.model_dump(by_alias=True, mode="json", exclude_none=True),
        context={"traits": {"email": email}} if email else {},
        timestamp=at,
        received_at=at,
    )


def action_of(event: TrackedEvent) -> JourneyAction | None:
    """The journey action an event carries (None for every other event)."""
    if event.source_id != JOURNEY_SOURCE or event.event != JOURNEY_ACTION:
        return None
    return JourneyAction.model_validate(event.properties)

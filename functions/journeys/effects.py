"""The side effects of journey steps, each idempotent by construction (keyed by run, step and move):

- an email is a send request whose message id derives from (journey, run, step, seq): the sender sends an
  id once, however often it is enqueued;
- a tag, score or stage change is a `Journey Action` tracking event whose id derives from the same, which
  the Scorer applies once (the profile has one writer);
- an owner notification (journeys.notify) is claimed before SES is called, so it goes out at most once.
"""

from __future__ import annotations

from datetime import datetime

from journeys import store
from journeys.models import (
    AddTagStep,
    ChangeScoreStep,
    ChangeStageStep,
    JourneyVersion,
    RemoveTagStep,
    Run,
    SendEmailStep,
)
from leadstream.profiles import Profile
from mail.sends import SendRequest, message_id_for
from scoring.journey_actions import JourneyAction, action_event
from tracking.logic import store_events

JOURNEY = "journey"


def step_message_id(run: Run, kind: str = JOURNEY) -> str:
    """The id of what the run's current move produces. The move number is part of it: a step reached
    again through a loop (after a wait) is a new email, a repeat of the same move is not."""
    return message_id_for(kind, run.journey_id, run.run_id, run.step_id, str(run.seq))


def send_email(run: Run, step: SendEmailStep, version: JourneyVersion, profile_id: str) -> str:
    message_id = step_message_id(run)
    store.enqueue_send(
        SendRequest(
            message_id=message_id,
            template_id=step.template_id,
            template_version=version.template_version(run.step_id, step),
            profile_id=profile_id,
            journey_id=run.journey_id,
            step_id=run.step_id,
            topic_id=step.topic_id,
        )
    )
    return message_id


def store_action(
    run: Run,
    step: AddTagStep | RemoveTagStep | ChangeScoreStep | ChangeStageStep,
    profile: Profile | None,
    at: datetime,
) -> str:
    """Store the step's change as a `Journey Action` event for the Scorer; the outcome for the run's log."""
    if profile is None:
        return "skipped: the profile is gone"
    fields: dict[str, object] = {
        "action": step.type,
        "journeyId": run.journey_id,
        "runId": run.run_id,
        "stepId": run.step_id,
    }
    if isinstance(step, AddTagStep | RemoveTagStep):
        fields["tag"] = step.tag
    elif isinstance(step, ChangeScoreStep):
        fields["points"] = step.points
    else:
        fields["stage"] = step.stage.value
    action = JourneyAction.model_validate(fields)
    event = action_event(action, profile, message_id=step_message_id(run, "journey-action"), at=at)

    store_events([event])
    return f"{step.type} stored"

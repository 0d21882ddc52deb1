"""Journey tag, score and stage steps reach the profile through the Scorer, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from leadstream.profiles import IdentityRef, Profile
from leadstream.scores import Stage
from scoring.engagement import Scorer
from scoring.journey_actions import JourneyAction, action_event, action_of
from scoring.rules import DEFAULT_ENGAGEMENT_RULES, DEFAULT_FIT_RULES, ScoringConfig

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SCORER = Scorer(ScoringConfig(engagement=list(DEFAULT_ENGAGEMENT_RULES), fit=list(DEFAULT_FIT_RULES)))


def known(**fields: object) -> Profile:
    profile = Profile(profile_id="p-1", email="ada@example.com", **fields)  # type: ignore[arg-type]
    profile.add_identity(IdentityRef(kind="email", value="ada@example.com"))
    return profile


def action(kind: str, step: str, **fields: object) -> JourneyAction:
    return JourneyAction.model_validate(
        {"action": kind, "journeyId": "jrn-1", "runId": "jrn-1.p-1.1", "stepId": step, **fields}
    )


def test_each_action_applies_once_even_when_redelivered() -> None:
    profile = known(tags=["old"])
    events = [
        action_event(action("add_tag", "t", tag="nurtured"), profile, message_id="a1", at=AT),
        action_event(action("remove_tag", "r", tag="old"), profile, message_id="a2", at=AT),
        action_event(action("change_score", "s", points=25), profile, message_id="a3", at=AT),
        action_event(action("change_stage", "g", stage="lead"), profile, message_id="a4", at=AT),
    ]
    for event in [*events, *events]:  # the stream delivers them all twice
        SCORER(profile, event)
    assert profile.tags == ["nurtured"]
    assert round(profile.score.engagement_at(AT)) == 25
    assert profile.stage is Stage.LEAD
    assert profile.stage_history[-1].by == "journey:jrn-1"


def test_stages_only_move_forward_and_the_event_names_the_person_by_one_identity() -> None:
    profile = known(stage=Stage.MQL)
    event = action_event(action("change_stage", "g", stage="lead"), profile, message_id="a5", at=AT)
    SCORER(profile, event)
    assert profile.stage is Stage.MQL
    assert (event.user_id, event.context) == (None, {"traits": {"email": "ada@example.com"}})
    assert action_of(event) == action("change_stage", "g", stage="lead")

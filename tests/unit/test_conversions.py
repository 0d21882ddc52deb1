"""Conversions: which emails a goal activity converts (campaign and journey goals, window edges, retired
journey goals), and the goal a journey definition carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from campaigns.conversions import ConversionStore, on_profile_changes
from campaigns.store import GoalEntry
from journeys.models import JourneyDefinition
from leadstream import clock
from leadstream.profiles import Profile, ProfileChange
from mail.sends import SendRecord, SendStatus

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BOUGHT = "Order Completed"


def goal(kind: str = "journey", owner_id: str = "jrn-1", window_days: int = 7, **fields: Any) -> GoalEntry:
    return GoalEntry.model_validate(
        {
            "kind": kind,
            "ownerId": owner_id,
            "activityKey": BOUGHT,
            "windowDays": window_days,
            "startedAt": T0 - timedelta(days=30),
            **fields,
        }
    )


def email(message_id: str, sent_ago: timedelta, **fields: Any) -> SendRecord:
    sent_at = clock.now() - sent_ago
    return SendRecord.model_validate(
        {
            "messageId": message_id,
            "status": SendStatus.SENT,
            "profileId": "p-1",
            "templateId": "tpl-1",
            "templateVersion": 1,
            "sentAt": sent_at,
            "claimedAt": sent_at,
            "updatedAt": sent_at,
            **fields,
        }
    )


class Recorder:
    """The store's side: the goals and emails given, and the messages counted converted."""

    def __init__(self, goals: list[GoalEntry], emails: list[SendRecord]) -> None:
        self.goals, self.emails = goals, emails
        self.counted: list[str] = []

    def store(self) -> ConversionStore:
        return ConversionStore(
            goals=lambda: self.goals,
            sends_of_profile=lambda _profile, _since: self.emails,
            count_conversion=self._count,
        )

    def _count(self, record: SendRecord, at: datetime) -> bool:
        self.counted.append(record.message_id)
        return True


def bought() -> ProfileChange:
    before = Profile(profile_id="p-1")
    after = before.model_copy(update={"activity": {BOUGHT: {clock.now().date().isoformat(): 1}}})
    return ProfileChange(old=before, new=after)


def test_a_journey_goal_converts_the_journeys_emails_of_every_step_in_its_window() -> None:
    recorder = Recorder(
        [goal("journey", "jrn-1", window_days=7)],
        [
            email("hello", timedelta(days=6), journeyId="jrn-1", stepId="hello"),
            email("follow-up", timedelta(hours=1), journeyId="jrn-1", stepId="follow-up"),
            email("too-old", timedelta(days=8), journeyId="jrn-1", stepId="hello"),
            email("other-journey", timedelta(days=1), journeyId="jrn-2", stepId="hello"),
            email("campaign", timedelta(days=1), campaignId="jrn-1", variant="A"),  # a campaign, same id
            email("skipped", timedelta(days=1), journeyId="jrn-1", stepId="hello", status=SendStatus.SKIPPED),
            email("done", timedelta(days=1), journeyId="jrn-1", stepId="x", convertedAt=clock.now()),
        ],
    )

    assert on_profile_changes([bought()], recorder.store()) == 2
    assert recorder.counted == ["hello", "follow-up"]


def test_campaign_and_journey_goals_side_by_side_and_entries_from_before_journeys_had_goals() -> None:
    stored_before = GoalEntry.model_validate(
        {"campaignId": "cmp-1", "activityKey": BOUGHT, "windowDays": 3, "startedAt": T0, "ttl": 1}
    )
    assert (stored_before.kind, stored_before.owner_id) == ("campaign", "cmp-1")
    recorder = Recorder(
        [stored_before, goal("journey", "jrn-1")],
        [
            email("campaign", timedelta(days=1), campaignId="cmp-1", variant="A"),
            email("journey", timedelta(days=1), journeyId="jrn-1", stepId="hello"),
            email("campaign-too-old", timedelta(days=4), campaignId="cmp-1", variant="A"),
        ],
    )

    assert on_profile_changes([bought()], recorder.store()) == 2
    assert recorder.counted == ["campaign", "journey"]


def test_another_activity_reads_no_email() -> None:
    recorder = Recorder(
        [goal(activityKey="Signed Up")],
        [email("hello", timedelta(days=1), journeyId="jrn-1", stepId="hello")],
    )

    assert on_profile_changes([bought()], recorder.store()) == 0
    assert recorder.counted == []


def test_window_edges() -> None:
    entry = goal(window_days=7)
    at = T0

    assert entry.converts(at - timedelta(days=7), at)  # the window's first moment
    assert not entry.converts(at - timedelta(days=7, microseconds=1), at)
    assert entry.converts(at, at)  # done the moment the email was sent
    assert not entry.converts(at + timedelta(seconds=1), at)  # an email sent after the activity


def test_a_retired_journey_goal_converts_emails_sent_before_it_was_retired_only() -> None:
    retired_at = T0 - timedelta(days=2)
    entry = goal(window_days=7, retiredAt=retired_at)

    assert entry.converts(retired_at, T0)
    assert entry.converts(retired_at - timedelta(days=1), T0)
    assert not entry.converts(retired_at + timedelta(seconds=1), T0)
    assert not entry.converts(retired_at - timedelta(days=6), T0)  # its own window is over


def test_a_journey_definition_takes_the_campaigns_goal_model() -> None:
    def definition(**fields: Any) -> JourneyDefinition:
        return JourneyDefinition.model_validate(
            {
                "name": "Welcome",
                "trigger": {"type": "form", "formId": "newsletter"},
                "start": "hello",
                "steps": {"hello": {"type": "send_email", "templateId": "tpl-1"}},
                **fields,
            }
        )

    assert definition().conversion is None
    with_goal = definition(conversion={"activityKey": BOUGHT})
    assert with_goal.conversion is not None
    assert (with_goal.conversion.activity_key, with_goal.conversion.window_days) == (BOUGHT, 7)
    for bad, message in (
        ({"activityKey": BOUGHT, "windowDays": 0}, "greater than or equal to 1"),
        ({"activityKey": BOUGHT, "windowDays": 91}, "less than or equal to 90"),
        ({"activityKey": ""}, "at least 1 character"),
        ({"windowDays": 7}, "activityKey"),
        ({"activityKey": BOUGHT, "days": 7}, "Extra inputs are not permitted"),
    ):
        with pytest.raises(ValidationError, match=message) as error:
            definition(conversion=bad)
        assert all(e["loc"][0] == "conversion" for e in error.value.errors())

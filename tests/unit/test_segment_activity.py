"""Behaviour counts on profiles: which keys an event counts for, pruning, merges, exactly-once counting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leadstream.activity import (
    ACTIVITY_DAYS,
    MAX_ACTIVITY_KEYS,
    activity_increases,
    activity_keys,
    count_event,
    prune,
)
from leadstream.events import SegmentMessage, TrackedEvent
from leadstream.profiles import IdentityRef, Profile, ProfileChange
from scoring.engagement import Scorer
from scoring.rules import DEFAULT_ENGAGEMENT_RULES, ScoringConfig

T0 = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)


def event(kind: str = "track", *, at: datetime = T0, message_id: str = "m1", **fields: Any) -> TrackedEvent:
    raw = {"type": kind, "anonymousId": "a1", "messageId": message_id, "timestamp": at.isoformat(), **fields}
    return SegmentMessage.model_validate(raw).to_tracked("src", at)


def test_activity_keys_per_event_kind() -> None:
    assert activity_keys(event(event="Content Downloaded")) == ["Content Downloaded"]
    assert activity_keys(event("page", name="Pricing")) == ["Page Viewed"]
    assert activity_keys(event("screen", name="Home")) == ["Screen Viewed"]
    form = event(event="Form Submitted", properties={"formId": "demo"})
    assert activity_keys(form) == ["Form Submitted", "Form Submitted:demo"]
    assert activity_keys(event("identify", traits={"email": "jo@acme.io"})) == []
    scanner = event(event="Email Clicked", properties={"scanner": True})
    assert activity_keys(scanner) == []  # machines are recorded, never counted as people


def test_counts_are_per_utc_day_and_pruned_to_the_window() -> None:
    counted = count_event({}, event(event="Signed In"))
    counted = count_event(counted, event(event="Signed In", at=T0 + timedelta(minutes=2)))  # next UTC day
    assert counted == {"Signed In": {"2026-11-23": 1, "2026-11-24": 1}}
    old = (T0 - timedelta(days=ACTIVITY_DAYS)).date().isoformat()
    assert prune({"Signed In": {old: 4, "2026-11-24": 1}}) == {"Signed In": {"2026-11-24": 1}}
    many = {f"key{n:03d}": {f"2026-11-{1 + n % 20:02d}": 1} for n in range(MAX_ACTIVITY_KEYS + 5)}
    kept = prune(many)
    assert len(kept) == MAX_ACTIVITY_KEYS
    assert all(max(days) >= "2026-11-01" for days in kept.values())


def test_increases_are_the_keys_that_went_up() -> None:
    before = Profile(
        profile_id="p1", activity={"Page Viewed": {"2026-11-23": 2}, "Email Opened": {"2026-11-20": 1}}
    )
    after = before.model_copy(deep=True)
    after.activity = count_event(after.activity, event("page"))
    assert activity_increases(before.activity, after.activity) == {"Page Viewed"}
    assert activity_increases(after.activity, after.activity) == set()
    assert ProfileChange(old=before, new=after).activity_increases() == {"Page Viewed"}
    assert ProfileChange(old=None, new=after).activity_increases() == {"Page Viewed", "Email Opened"}
    assert ProfileChange(old=after, new=None).activity_increases() == set()


def test_scorer_counts_each_fresh_event_once_and_redelivery_not_again() -> None:
    scorer = Scorer(ScoringConfig(engagement=list(DEFAULT_ENGAGEMENT_RULES)))
    profile = Profile(profile_id="p1")
    download = event(event="Content Downloaded", message_id="m-dl")
    scorer(profile, download)
    scorer(profile, download)  # the same stream record, delivered again
    scorer(profile, event(event="Content Downloaded", message_id="m-dl-2"))
    assert profile.activity == {"Content Downloaded": {"2026-11-23": 2}}


def test_a_merge_adds_the_absorbed_counts_once() -> None:
    survivor = Profile(profile_id="known", activity={"Page Viewed": {"2026-11-23": 1}})
    survivor.add_identity(IdentityRef(kind="email", value="jo@acme.io"))
    visitor = Profile(
        profile_id="anon", activity={"Page Viewed": {"2026-11-23": 3}, "Demo": {"2026-11-22": 1}}
    )
    survivor.absorb(visitor)
    survivor.absorb(visitor)  # a retried merge
    assert survivor.activity == {"Demo": {"2026-11-22": 1}, "Page Viewed": {"2026-11-23": 4}}

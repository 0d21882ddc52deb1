"""Membership logic on plain models: who may be a member, entries and exits, the one timer, echoes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from audience.conditions import parse_condition
from audience.segments import (
    Segment,
    SegmentChange,
    audience_view,
    changes_between,
    next_evaluation,
    wanted_segments,
)
from leadstream.profiles import IdentityRef, Profile

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def segment(segment_id: str, condition: dict[str, object]) -> Segment:
    return Segment.model_validate(
        {"segmentId": segment_id, "name": segment_id, "condition": condition, "version": 1,
         "createdAt": NOW, "updatedAt": NOW}
    )  # fmt: skip


BIG = segment("big", {"type": "trait", "path": "employees", "op": "gte", "value": 500})
ACTIVE = segment("active", {"type": "activity", "key": "Page Viewed", "op": "at_least", "days": 3})
HOT = segment("hot", {"type": "score", "score": "engagement", "op": "gte", "value": 10})


def known(**fields: object) -> Profile:
    profile = Profile.model_validate({"profileId": "p1", "version": 4, "email": "jo@acme.io", **fields})
    profile.add_identity(IdentityRef(kind="email", value="jo@acme.io"))
    return profile


def test_only_live_known_people_are_members() -> None:
    traits = {"employees": 900}
    assert wanted_segments([BIG], known(traits=traits), NOW) == {"big"}
    assert wanted_segments([BIG], Profile(profile_id="anon", traits=traits), NOW) == set()
    assert wanted_segments([BIG], known(traits=traits, mergedInto="p2"), NOW) == set()


def test_entries_and_exits_take_the_person_from_where_they_are_to_where_they_belong() -> None:
    changes = changes_between({"a", "b"}, {"b", "c"}, "p1", NOW)
    assert changes == [SegmentChange("c", "p1", True, NOW), SegmentChange("a", "p1", False, NOW)]
    assert changes_between({"a"}, {"a"}, "p1", NOW) == []


def test_the_one_timer_is_the_earliest_time_based_change() -> None:
    yesterday = (NOW.date() - timedelta(days=1)).isoformat()
    profile = known(traits={"employees": 900}, activity={"Page Viewed": {yesterday: 1}})
    profile.score.add_points(20, NOW)  # under 10 after one half-life (30 days)
    midnight = datetime.combine(NOW.date() + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    assert next_evaluation([BIG, ACTIVE, HOT], profile, NOW) == midnight
    assert next_evaluation([BIG], profile, NOW) is None  # traits change only with a write
    assert next_evaluation([ACTIVE], Profile(profile_id="anon"), NOW) is None


def test_a_write_that_changes_nothing_conditions_read_is_an_echo() -> None:
    before = known(traits={"employees": 900})
    echo = before.model_copy(update={"version": 5, "last_seen": NOW}, deep=True)
    assert audience_view(before) == audience_view(echo)
    moved = before.model_copy(update={"tags": ["customer"]}, deep=True)
    assert audience_view(before) != audience_view(moved)
    assert audience_view(before) != audience_view(before.model_copy(update={"merged_into": "p9"}))


def test_conditions_read_back_from_dynamodb_numbers() -> None:
    stored = {"type": "trait", "path": "employees", "op": "gte", "value": Decimal(500)}
    assert parse_condition(stored) == BIG.condition
    ratio = parse_condition({"type": "trait", "path": "ratio", "op": "lt", "value": Decimal("0.5")})
    assert ratio.value == 0.5  # type: ignore[union-attr]

"""The condition language: validation, matching of every kind of condition, and when time alone flips it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from audience.conditions import MAX_DEPTH, matches, next_change, parse_condition
from leadstream.http import validation_errors
from leadstream.profiles import IdentityRef, Profile
from leadstream.scores import Stage

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


def person(**fields: Any) -> Profile:
    profile = Profile.model_validate({"profileId": "p1", "email": "jo@acme.io", **fields})
    profile.add_identity(IdentityRef(kind="email", value="jo@acme.io"))
    return profile


def holds(condition: dict[str, Any], profile: Profile, now: datetime = NOW) -> bool:
    return matches(parse_condition(condition), profile, now)


def trait(path: str, op: str, value: Any = None) -> dict[str, Any]:
    field = "values" if op == "in" else "value"
    return {"type": "trait", "path": path, "op": op, **({} if value is None else {field: value})}


TRAITS = {
    "company": {"name": "Acme", "employees": "1,200"},
    "country": "Germany",
    "seats": 12,
    "plan": "Pro",
    "signup": "2026-03-01",
    "languages": ["de", "en"],
    "trial": True,
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (trait("company.employees", "gt", 1000), True),  # text "1,200" compares as a number
        (trait("company.employees", "lt", 1000), False),
        (trait("seats", "gte", 12), True),
        (trait("seats", "lte", 11.5), False),
        (trait("seats", "eq", 12), True),
        (trait("seats", "eq", "12"), True),
        (trait("country", "eq", "germany"), True),  # text is case-insensitive
        (trait("country", "neq", "germany"), False),
        (trait("missing", "neq", "x"), True),  # neq is not-eq: a missing trait is not "x"
        (trait("missing", "eq", "x"), False),
        (trait("plan", "in", ["free", "pro"]), True),
        (trait("plan", "contains", "r"), True),
        (trait("plan", "starts_with", "PR"), True),
        (trait("signup", "gte", "2026-01-01"), True),  # ISO dates order as text
        (trait("signup", "lt", "2026-01-01"), False),
        (trait("languages", "contains", "en"), True),  # a list trait: has the element
        (trait("languages", "eq", "fr"), False),
        (trait("company", "exists"), True),
        (trait("nickname", "not_exists"), True),
        (trait("trial", "eq", True), True),
        (trait("email", "contains", "@acme.io"), True),  # email falls back to the profile's address
        (trait("company.employees", "gt", "many"), False),  # text vs text: "1,200" < "many"
        (trait("nickname|company.name", "eq", "acme"), True),  # `a|b` tries a, then b
        (trait("company", "eq", "Acme"), False),  # an object is never equal to text
    ],
)
def test_trait_conditions(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition, person(traits=TRAITS)) is expected


@pytest.mark.parametrize(
    ("condition", "stage", "expected"),
    [
        ({"op": "eq", "value": "lead"}, Stage.LEAD, True),
        ({"op": "in", "values": ["customer", "lead"]}, Stage.LEAD, True),
        ({"op": "at_least", "value": "lead"}, Stage.MQL, True),
        ({"op": "at_least", "value": "marketing-qualified"}, Stage.LEAD, False),
        ({"op": "at_least", "value": "subscriber"}, Stage.OTHER, False),  # outside the funnel
        ({"op": "eq", "value": "lead"}, None, False),
    ],
)
def test_stage_conditions(condition: dict[str, Any], stage: Stage | None, expected: bool) -> None:
    assert holds({"type": "stage", **condition}, person(stage=stage)) is expected


def test_score_grade_and_tag_conditions() -> None:
    profile = person(tags=["interest:pricing"])
    profile.score.add_points(80, NOW - timedelta(days=30))  # one half-life ago: 40 now
    profile.score.fit, profile.score.grade = 35, "B"
    assert holds({"type": "score", "score": "engagement", "op": "gte", "value": 39.9}, profile)
    assert not holds({"type": "score", "score": "engagement", "op": "gte", "value": 40.1}, profile)
    assert holds({"type": "score", "score": "fit", "op": "gt", "value": 30}, profile)
    assert holds({"type": "grade", "op": "in", "values": ["a", "b"]}, profile)
    assert not holds({"type": "grade", "op": "eq", "value": "A"}, profile)
    assert holds({"type": "tag", "op": "has", "tag": "interest:pricing"}, profile)
    assert holds({"type": "tag", "op": "has_not", "tag": "unsubscribed"}, profile)


def activity(key: str, days: dict[int, int]) -> dict[str, dict[str, int]]:
    """Counts `days ago -> count` relative to NOW's day."""
    return {key: {(NOW.date() - timedelta(days=ago)).isoformat(): n for ago, n in days.items()}}


def midnight_after(days: int) -> datetime:
    return datetime.combine(NOW.date() + timedelta(days=days), datetime.min.time(), tzinfo=UTC)


def test_activity_window_counts_whole_utc_days_and_expires_at_midnight() -> None:
    profile = person(activity=activity("Page Viewed", {0: 1, 3: 2, 6: 1, 7: 5}))
    at_least_4 = {"type": "activity", "key": "Page Viewed", "op": "at_least", "count": 4, "days": 7}
    condition = parse_condition(at_least_4)
    assert matches(condition, profile, NOW)  # days 0..6: 1 + 2 + 1 = 4; day 7 is outside
    # The day 6 ago leaves the window at midnight 1 day from now; then 3 remain: under 4.
    change = next_change(condition, profile, NOW)
    assert change == midnight_after(1)
    assert matches(condition, profile, change - timedelta(microseconds=1))
    assert not matches(condition, profile, change)
    assert next_change(condition, profile, change) is None  # counts only fall: no more timers


def test_not_in_last_holds_again_when_the_newest_day_leaves() -> None:
    profile = person(activity=activity("Email Opened", {2: 1, 10: 3}))
    condition = parse_condition({"type": "activity", "key": "Email Opened", "op": "not_in_last", "days": 5})
    assert not matches(condition, profile, NOW)
    change = next_change(condition, profile, NOW)
    assert change == midnight_after(3)
    assert matches(condition, profile, change)
    assert next_change(condition, profile, change) is None


def test_decaying_score_threshold_expires_when_the_score_decays_under_it() -> None:
    profile = person()
    profile.score.add_points(100, NOW)
    condition = parse_condition({"type": "score", "score": "engagement", "op": "gte", "value": 50})
    change = next_change(condition, profile, NOW)
    assert change is not None
    assert abs(change - (NOW + timedelta(days=30))) < timedelta(seconds=2)  # one half-life
    assert not matches(condition, profile, change)
    assert matches(condition, profile, change - timedelta(seconds=2))
    # "lt 50" does not hold now and starts to hold at the same moment.
    below = parse_condition({"type": "score", "score": "engagement", "op": "lt", "value": 50})
    assert next_change(below, profile, NOW) == change
    assert next_change(below, profile, change) is None  # under it for good, without new points


def test_groups_combine_and_time_their_changes() -> None:
    profile = person(stage=Stage.LEAD, activity=activity("Page Viewed", {1: 1}))
    active = {"type": "activity", "key": "Page Viewed", "op": "at_least", "days": 3}
    customer = {"type": "stage", "op": "eq", "value": "customer"}
    lead = {"type": "stage", "op": "eq", "value": "lead"}
    expires = midnight_after(2)
    and_holding = parse_condition({"type": "all", "conditions": [active, lead]})
    assert matches(and_holding, profile, NOW)
    assert next_change(and_holding, profile, NOW) == expires
    # An AND blocked by something only an event changes needs no timer at all.
    and_blocked = parse_condition({"type": "all", "conditions": [active, customer]})
    assert not matches(and_blocked, profile, NOW)
    assert next_change(and_blocked, profile, NOW) is None
    # An OR held by a part that never expires needs none either; one held by expiring parts does.
    assert next_change(parse_condition({"type": "any", "conditions": [active, lead]}), profile, NOW) is None
    or_expiring = parse_condition({"type": "any", "conditions": [active, customer]})
    assert matches(or_expiring, profile, NOW)
    assert next_change(or_expiring, profile, NOW) == expires
    nested = parse_condition({"type": "any", "conditions": [{"type": "all", "conditions": [active]}]})
    assert next_change(nested, profile, NOW) == expires


def nested(levels: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": "tag", "op": "has", "tag": "x"}
    for _ in range(levels):
        condition = {"type": "all", "conditions": [condition]}
    return condition


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (trait("x", "gt"), "trait", "takes one `value`"),
        ({"type": "trait", "path": "x", "op": "in", "value": "a"}, "trait", "takes `values`"),
        (trait("x", "eq", {"a": 1}), "trait.value", "must be a string, a number or a boolean"),
        (trait("x", "exists", 1), "trait", "takes no value"),
        ({"type": "stage", "op": "at_least", "value": "other"}, "stage", "funnel stage"),
        ({"type": "stage", "op": "eq", "value": "vip"}, "stage.value", "Input should be"),
        ({"type": "activity", "key": "x", "op": "at_least", "days": 91}, "activity.days", "90"),
        ({"type": "activity", "key": "x", "op": "not_in_last", "days": 5, "count": 2}, "activity", "count"),
        ({"type": "all", "conditions": []}, "all.conditions", "at least 1"),
        ({"type": "sometimes"}, "(body)", "does not match any of the expected tags"),
        ({"type": "tag", "op": "has", "tag": "x", "extra": 1}, "tag.extra", "Extra inputs"),
        (nested(MAX_DEPTH + 1), "all", f"more than {MAX_DEPTH} deep"),
    ],
)
def test_bad_conditions_name_the_field_to_fix(raw: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_condition(raw)
    errors = validation_errors(caught.value)
    assert any(error["field"] == field and message in error["message"] for error in errors), errors


def test_depth_limit_allows_the_limit_itself() -> None:
    assert matches(parse_condition(nested(MAX_DEPTH)), person(tags=["x"]), NOW)


@settings(max_examples=60)
@given(
    counts=st.dictionaries(st.integers(0, 100), st.integers(1, 5), max_size=12),
    window=st.integers(1, 90),
    wanted=st.integers(1, 12),
    hours=st.integers(0, 23),
)
def test_activity_next_change_is_exactly_when_the_answer_flips(
    counts: dict[int, int], window: int, wanted: int, hours: int
) -> None:
    now = NOW.replace(hour=hours)
    profile = person(activity=activity("x", counts))
    for op, count in (("at_least", wanted), ("not_in_last", 1)):
        condition = parse_condition(
            {"type": "activity", "key": "x", "op": op, "count": count, "days": window}
        )
        before = matches(condition, profile, now)
        change = next_change(condition, profile, now)
        if change is None:  # no flip for the next 200 days, checked day by day
            assert all(matches(condition, profile, now + timedelta(days=day)) == before for day in range(200))
            continue
        assert change > now
        assert matches(condition, profile, change - timedelta(microseconds=1)) == before
        assert matches(condition, profile, change) != before

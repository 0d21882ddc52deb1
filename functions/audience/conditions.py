"""The condition language of segments and journey branches: rules on one profile, evaluated at a moment.

A condition is JSON with a `type` (docs/segments.md has the reference and examples):

    {"type": "all", "conditions": [
        {"type": "trait", "path": "company.employees", "op": "gte", "value": 50},
        {"type": "stage", "op": "at_least", "value": "lead"},
        {"type": "score", "score": "engagement", "op": "gte", "value": 40},
        {"type": "tag", "op": "has", "tag": "interest:pricing"},
        {"type": "activity", "key": "Page Viewed", "op": "at_least", "count": 3, "days": 30},
        {"type": "any", "conditions": [...]}]}

`matches(condition, profile, now)` says whether a profile satisfies it; `next_change(condition, profile,
now)` says when the answer could change *without any new event*: a counted day leaving a behaviour window
(day granularity, UTC), or the decaying engagement score crossing a threshold. Everything else (traits,
stage, tags, fit, grade) only changes when the profile is written, which the stream sees. A membership
timer at `next_change` therefore keeps every time-based segment exact with no rebuild.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from leadstream.activity import ACTIVITY_DAYS, count_in_window, leaves_window, window_start
from leadstream.consents import PURPOSE_PATTERN
from leadstream.models import Model
from leadstream.numbers import STORABLE_NUMBERS, StorableFloat, StorableInt
from leadstream.scores import DECAY_EPOCH, FUNNEL, SECONDS_PER_DAY, Stage
from scoring.rules import trait_field

if TYPE_CHECKING:
    from leadstream.profiles import Profile

MAX_DEPTH = 5  # nesting of all/any groups (the top-level group counts as one)
MAX_GROUP_SIZE = 50
MAX_LIST_VALUES = 100
# A decaying score is re-checked this long after it crosses a threshold, so the timer never fires on
# the exact instant where rounding could still read the old side of it.
CROSSING_MARGIN = timedelta(seconds=1)

TraitOp = Literal[
    "eq", "neq", "gt", "gte", "lt", "lte", "contains", "starts_with", "in", "exists", "not_exists"
]
MAX_TEXT = 200
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
_VALUE_FREE_OPS = frozenset({"exists", "not_exists"})


class _Model(Model):
    # defer_build (on every model here): validators are built on first use, not at import; the
    # email API imports these models for its route declarations (docs/api.md, "Cold start").
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid", frozen=True)


def _one_of_operator(op: str, value: object, values: list[Any] | None, many: str) -> None:
    """`in` takes `values` (a list), every other operator one `value`: say which is missing or extra."""
    if op == "in":
        if values is None or value is not None:
            raise ValueError(f"operator 'in' takes `values`, a list of 1 to {MAX_LIST_VALUES} {many}")
    elif value is None or values is not None:
        raise ValueError(f"operator {op!r} takes one `value`")


def _scalar(value: Any) -> Any:
    if isinstance(value, Decimal):  # as DynamoDB gives numbers back
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ValueError(f"at most {MAX_TEXT} characters")
    if not isinstance(value, str | int | float | bool):
        raise ValueError("must be a string, a number or a boolean")
    return value


Scalar = Annotated[Any, STORABLE_NUMBERS, AfterValidator(_scalar)]


class TraitCondition(_Model):
    """A test on a trait, by dotted path (`company.employees`); `a|b` tries `a`, then `b`.

    Numbers compare as numbers (a trait "1,200" or 1200 is greater than 50); text compares
    case-insensitively. `neq` is the opposite of `eq`, so it holds for a missing trait.
    `email` reads the profile's email address when no trait of that name exists.
    """

    type: Literal["trait"]
    path: Text
    op: TraitOp
    value: Scalar | None = None
    values: list[Scalar] | None = Field(default=None, min_length=1, max_length=MAX_LIST_VALUES)

    @model_validator(mode="after")
    def _value_fits_operator(self) -> TraitCondition:
        if self.op in _VALUE_FREE_OPS:
            if self.value is not None or self.values is not None:
                raise ValueError(f"operator {self.op!r} takes no value")
        else:
            _one_of_operator(self.op, self.value, self.values, "values")
        return self

    @property
    def wanted(self) -> Any:
        return self.values if self.op == "in" else self.value


class StageCondition(_Model):
    """The lifecycle stage: `eq` one stage, `in` a list, or `at_least` a funnel stage (leadstream.scores
    FUNNEL order: subscriber < lead < marketing-qualified < ...; `other` is never at least anything)."""

    type: Literal["stage"]
    op: Literal["eq", "in", "at_least"]
    value: Stage | None = None
    values: list[Stage] | None = Field(default=None, min_length=1, max_length=len(Stage))

    @model_validator(mode="after")
    def _value_fits_operator(self) -> StageCondition:
        _one_of_operator(self.op, self.value, self.values, "stages")
        if self.op == "at_least" and self.value not in FUNNEL:
            raise ValueError("'at_least' needs a funnel stage ('other' is outside the funnel)")
        return self


class ScoreCondition(_Model):
    """`engagement` (the decayed score as it stands now) or `fit` compared with a number."""

    type: Literal["score"]
    score: Literal["engagement", "fit"]
    op: Literal["gt", "gte", "lt", "lte"]
    value: StorableFloat = Field(ge=-1_000_000, le=1_000_000)


class GradeCondition(_Model):
    """The fit grade letter: `eq` one (`value`), `in` several (`values`)."""

    type: Literal["grade"]
    op: Literal["eq", "in"]
    value: Text | None = None
    values: list[Text] | None = Field(default=None, min_length=1, max_length=MAX_LIST_VALUES)

    @model_validator(mode="after")
    def _value_fits_operator(self) -> GradeCondition:
        _one_of_operator(self.op, self.value, self.values, "grades")
        return self


class TagCondition(_Model):
    type: Literal["tag"]
    op: Literal["has", "has_not"]
    tag: Text


class ActivityCondition(_Model):
    """Behaviour: `at_least` `count` times in the last `days` UTC days (today included), or `not_in_last`
    `days` days at all. `key` is an activity key (leadstream.activity: a track event name, "Page Viewed",
    "Screen Viewed", "Form Submitted:<formId>")."""

    type: Literal["activity"]
    key: Text
    op: Literal["at_least", "not_in_last"]
    days: StorableInt = Field(ge=1, le=ACTIVITY_DAYS)
    count: StorableInt = Field(default=1, ge=1, le=100_000)

    @model_validator(mode="after")
    def _count_fits_operator(self) -> ActivityCondition:
        if self.op == "not_in_last" and self.count != 1:
            raise ValueError("'not_in_last' takes no count (it means zero times)")
        return self


class ConsentCondition(_Model):
    """A person's consent for a purpose (leadstream.consents): `granted` and `declined` are explicit answers;
    `not_declined` is what the sender allows (granted, or never asked). A segment of `email` `granted` is
    the audience of a site that must ask before it sends."""

    type: Literal["consent"]
    purpose: str = Field(pattern=PURPOSE_PATTERN)
    op: Literal["granted", "declined", "not_declined"]


class GroupCondition(_Model):
    """`all` (AND) or `any` (OR) of 1 to MAX_GROUP_SIZE conditions, nested at most MAX_DEPTH deep."""

    type: Literal["all", "any"]
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_GROUP_SIZE)

    @model_validator(mode="after")
    def _not_too_deep(self) -> GroupCondition:
        if depth(self) > MAX_DEPTH:
            raise ValueError(f"groups are nested more than {MAX_DEPTH} deep; flatten the condition")
        return self


Condition = Annotated[
    TraitCondition
    | StageCondition
    | ScoreCondition
    | GradeCondition
    | TagCondition
    | ActivityCondition
    | ConsentCondition
    | GroupCondition,
    Field(discriminator="type"),
]
GroupCondition.model_rebuild()


def depth(condition: Condition) -> int:
    if isinstance(condition, GroupCondition):
        return 1 + max(depth(inner) for inner in condition.conditions)
    return 0


def walk(condition: Condition) -> Iterable[Condition]:
    """The condition and every condition nested in it."""
    yield condition
    if isinstance(condition, GroupCondition):
        for inner in condition.conditions:
            yield from walk(inner)


# --- matching --------------------------------------------------------------------------------------------
def matches(condition: Condition, profile: Profile, now: datetime) -> bool:
    if isinstance(condition, GroupCondition):
        combine = all if condition.type == "all" else any
        return combine(matches(inner, profile, now) for inner in condition.conditions)
    return _LEAF_TESTS[type(condition)](condition, profile, now)


def _trait_matches(condition: TraitCondition, profile: Profile, now: datetime) -> bool:
    # Imported here: scoring.rules builds every rule model, which the email API's cold start (it imports
    # this module for its segment routes' types) would otherwise pay for without evaluating anything.
    found = trait_field(_traits(profile), condition.path)
    return trait_holds(condition.op, found, condition.wanted)


def _traits(profile: Profile) -> Mapping[str, Any]:
    if "email" in profile.traits or profile.email is None:
        return profile.traits
    return {**profile.traits, "email": profile.email}


def trait_holds(op: TraitOp, found: Any, wanted: Any) -> bool:
    """Whether a trait value `found` passes `op` against `wanted` (the condition's value)."""
    if op in ("exists", "not_exists"):
        return (found not in (None, "", [], {})) == (op == "exists")
    if op == "neq":
        return not trait_holds("eq", found, wanted)
    if op == "in":
        return any(trait_holds("eq", found, item) for item in wanted or [])
    if isinstance(found, list):  # a list trait: "contains x" means has the element x, "eq x" likewise
        return any(trait_holds(op, item, wanted) for item in found)
    return found is not None and not isinstance(found, dict) and _SCALAR_TESTS[op](found, wanted)


def _equals(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, int | float) and not isinstance(wanted, bool):
        return _number(found) == float(wanted)
    return _text(found) == _text(wanted)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _ordered(op: str, found: Any, wanted: Any) -> bool:
    """A number against a number; otherwise text against text (ISO dates order correctly as text)."""
    if isinstance(wanted, int | float) and not isinstance(wanted, bool):
        number = _number(found)
        return number is not None and _COMPARISONS[op](number, float(wanted))
    return _COMPARISONS[op](_text(found), _text(wanted))


_SCALAR_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _equals,
    "contains": lambda found, wanted: _text(wanted) in _text(found),
    "starts_with": lambda found, wanted: _text(found).startswith(_text(wanted)),
    **{op: partial(_ordered, op) for op in _COMPARISONS},
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", "").strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        return str(int(value))  # 50.0 and Decimal("50") read as "50", as people write it
    return str(value).strip().casefold()


def _stage_matches(condition: StageCondition, profile: Profile, now: datetime) -> bool:
    stage = profile.stage
    if stage is None:
        return False
    if condition.op == "in":
        return stage in (condition.values or [])
    if condition.op == "eq":
        return stage is condition.value
    return condition.value is not None and stage in FUNNEL and stage.rank >= condition.value.rank


def _score_matches(condition: ScoreCondition, profile: Profile, now: datetime) -> bool:
    value = profile.score.engagement_at(now) if condition.score == "engagement" else profile.score.fit
    return _COMPARISONS[condition.op](value, condition.value)


def _grade_matches(condition: GradeCondition, profile: Profile, now: datetime) -> bool:
    grade = profile.score.grade
    wanted = condition.values or [condition.value or ""]
    return grade is not None and grade.casefold() in {letter.casefold() for letter in wanted}


def _tag_matches(condition: TagCondition, profile: Profile, now: datetime) -> bool:
    return (condition.tag in profile.tags) == (condition.op == "has")


def _activity_matches(condition: ActivityCondition, profile: Profile, now: datetime) -> bool:
    count = count_in_window(profile.activity, condition.key, now, condition.days)
    return count >= condition.count if condition.op == "at_least" else count == 0


def _consent_matches(condition: ConsentCondition, profile: Profile, now: datetime) -> bool:
    answer = profile.consents.get(condition.purpose)
    if condition.op == "not_declined":
        return answer is None or answer.granted
    return answer is not None and answer.granted == (condition.op == "granted")


_LEAF_TESTS: dict[type, Callable[[Any, Profile, datetime], bool]] = {
    TraitCondition: _trait_matches,
    StageCondition: _stage_matches,
    ScoreCondition: _score_matches,
    GradeCondition: _grade_matches,
    TagCondition: _tag_matches,
    ActivityCondition: _activity_matches,
    ConsentCondition: _consent_matches,
}


# --- when time alone changes the answer -------------------------------------------------------------------
def next_change(condition: Condition, profile: Profile, now: datetime) -> datetime | None:
    """The earliest moment after `now` at which `matches` could change with no new event; None: never.

    Exact for leaves. For groups it is a safe lower bound: a group that holds cannot change before its
    first part changes, and one that does not hold cannot change before every part that blocks it has
    (so an AND blocked by a trait waits for no timer at all). Firing early only costs a re-evaluation.
    """
    if isinstance(condition, GroupCondition):
        return _group_change(condition, profile, now)
    if isinstance(condition, ActivityCondition):
        return _activity_change(condition, profile, now)
    if isinstance(condition, ScoreCondition) and condition.score == "engagement":
        return _score_crossing(profile, condition.value, now)
    return None


def _group_change(condition: GroupCondition, profile: Profile, now: datetime) -> datetime | None:
    parts = [
        (matches(inner, profile, now), next_change(inner, profile, now)) for inner in condition.conditions
    ]
    holds = all(ok for ok, _ in parts) if condition.type == "all" else any(ok for ok, _ in parts)
    # The parts whose own flip is needed: for a holding AND (or a failing OR) any one part flipping may
    # flip the group, so the first of them; for a failing AND (or a holding OR) every blocking part must.
    deciding = holds if condition.type == "all" else not holds
    if deciding:
        changes = [change for _, change in parts if change is not None]
        return min(changes, default=None)
    blocking = [change for ok, change in parts if ok == holds]
    if not blocking or any(change is None for change in blocking):
        return None
    return max(change for change in blocking if change is not None)


def _activity_change(condition: ActivityCondition, profile: Profile, now: datetime) -> datetime | None:
    first = window_start(now, condition.days).isoformat()
    today = now.astimezone(UTC).date().isoformat()
    counted = sorted(
        (day, int(count))
        for day, count in profile.activity.get(condition.key, {}).items()
        if first <= day <= today and count
    )
    total = sum(count for _, count in counted)
    if condition.op == "not_in_last":
        # Holds: stays so until a new event. Fails: holds again once the newest counted day has left.
        return leaves_window(counted[-1][0], condition.days) if counted else None
    if total < condition.count:
        return None  # counts in a window only fall as time passes
    for day, count in counted:  # oldest first: the day whose departure brings the count under N
        total -= count
        if total < condition.count:
            return leaves_window(day, condition.days)
    return None  # unreachable: the loop ends at zero, below any count >= 1


def _score_crossing(profile: Profile, threshold: float, now: datetime) -> datetime | None:
    """When the decaying engagement score passes `threshold` on its way to zero, if after `now`.

    score(t) = mantissa * 2**(exponent - x(t)) with x(t) the half-lives since the epoch (leadstream.scores),
    so it reaches `threshold` (same sign, smaller magnitude) at x = exponent + log2(mantissa / threshold).
    """
    score = profile.score
    if threshold == 0 or score.mantissa == 0 or (score.mantissa > 0) != (threshold > 0):
        return None
    if abs(score.engagement_at(now)) <= abs(threshold):
        return None
    half_lives = score.exponent + math.log2(score.mantissa / threshold)
    seconds = half_lives * score.half_life_days * SECONDS_PER_DAY
    try:
        return DECAY_EPOCH + timedelta(seconds=seconds) + CROSSING_MARGIN
    except OverflowError:
        return None  # beyond the calendar: never, for any practical purpose


def parse_condition(raw: Any) -> Condition:
    """A condition from JSON-like data (raises pydantic.ValidationError with field paths)."""
    return CONDITION_ADAPTER.validate_python(raw)


CONDITION_ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)

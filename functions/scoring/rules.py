"""Scoring configuration: engagement and fit rules, assignment rules, thresholds and the half-life.

Stored in the main table and edited through the marketing API (`/marketing/scoring-rules`,
`/marketing/assignment-rules`, `/marketing/scoring-settings`); read by scoring. Matching is plain logic
on these models, so the API and scoring agree on what a rule means. docs/scoring.md lists the defaults.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from leadstream.events import TrackedEvent
from leadstream.models import Model
from leadstream.numbers import STORABLE_NUMBERS, StorableFloat, StorableInt, StorableIntOrNone
from leadstream.scores import DEFAULT_HALF_LIFE_DAYS, Stage

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9:_-]{0,63}$")]
Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "glob",
    "one_of",
    "exists",
    "not_exists",
    "gte",
    "lte",
    "free_mail",
    "not_free_mail",
]
EventKind = Literal["any", "identify", "track", "page", "screen", "group", "alias"]

# Addresses at these domains say nothing about an employer (the usual consumer mail services).
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "zoho.com",
        "qq.com",
        "163.com",
        "126.com",
        "fastmail.com",
        "hey.com",
    }
)
_NEEDS_VALUE = frozenset({"equals", "not_equals", "contains", "glob", "one_of", "gte", "lte"})


class _Model(Model):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Condition(_Model):
    """One test on an event (engagement rules) or on a profile's traits (fit and assignment rules).

    `field` names what to test: for events `event` (track name, page or screen name), `url`, `path`,
    `formId`, `emailId`, `type`, or a dotted path under `properties.`, `context.` or `traits.`; for traits
    a dotted trait path (`title`, `company.employee_count`). `a|b` tries `a`, then `b`.
    """

    field: str = Field(min_length=1, max_length=200)
    op: Operator
    value: Annotated[str | float | list[str] | None, STORABLE_NUMBERS] = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Condition:
        if self.op in _NEEDS_VALUE and self.value is None:
            raise ValueError(f"operator {self.op!r} needs a value")
        if self.op in ("gte", "lte") and not isinstance(self.value, int | float):
            raise ValueError(f"operator {self.op!r} needs a number")
        if self.op == "one_of" and not isinstance(self.value, list):
            raise ValueError("operator 'one_of' needs a list of values")
        return self

    def holds(self, found: Any) -> bool:
        if self.op in _PRESENCE:
            return _PRESENCE[self.op](found)
        if found is None:
            return self.op == "not_equals"
        if self.op in ("gte", "lte"):
            number, limit = _number(found), float(self.value)  # type: ignore[arg-type]  # validated
            return number is not None and (number >= limit if self.op == "gte" else number <= limit)
        text = _text(found)
        wanted = [_text(item) for item in self.value] if isinstance(self.value, list) else [_text(self.value)]
        return _TEXT_TESTS[self.op](text, wanted)


def _is_free_mail(found: Any) -> bool | None:
    """Whether an address is at a free-mail domain; None when it is not an address at all."""
    domain = str(found or "").rpartition("@")[2].strip().lower()
    return (domain in FREE_MAIL_DOMAINS) if "@" in str(found or "") and domain else None


_PRESENCE: dict[str, Callable[[Any], bool]] = {
    "exists": lambda found: found not in (None, "", [], {}),
    "not_exists": lambda found: found in (None, "", [], {}),
    "free_mail": lambda found: _is_free_mail(found) is True,
    "not_free_mail": lambda found: _is_free_mail(found) is False,
}
_TEXT_TESTS: dict[str, Callable[[str, list[str]], bool]] = {
    "equals": lambda text, wanted: text in wanted,
    "one_of": lambda text, wanted: text in wanted,
    "not_equals": lambda text, wanted: text not in wanted,
    "contains": lambda text, wanted: any(item in text for item in wanted),
    "glob": lambda text, wanted: any(fnmatch.fnmatchcase(text, pattern) for pattern in wanted),
}


class EngagementRule(_Model):
    """Points (and tags, and a minimum stage) for events that match."""

    kind: Literal["engagement"] = "engagement"
    rule_id: RuleId = Field(alias="ruleId")
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    event_type: EventKind = Field(default="any", alias="eventType")
    # Glob on the track event name, or on the page/screen name ("Email *", "Pricing").
    event_name: str | None = Field(default=None, alias="eventName", max_length=200)
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    points: StorableInt = Field(default=0, ge=-1000, le=1000)
    frequency: Literal["repeat", "once"] = "repeat"
    # For repeatable rules: how many times per profile and day (UTC, by event time) it awards at most.
    daily_cap: StorableIntOrNone = Field(default=None, alias="dailyCap", ge=1, le=1000)
    add_tags: list[Tag] = Field(default_factory=list, alias="addTags", max_length=20)
    remove_tags: list[Tag] = Field(default_factory=list, alias="removeTags", max_length=20)
    # A known profile that matches moves at least this far (forward only).
    stage: Stage | None = None

    @model_validator(mode="after")
    def _does_something(self) -> EngagementRule:
        if not (self.points or self.add_tags or self.remove_tags or self.stage):
            raise ValueError("a rule needs points, tags to add or remove, or a stage")
        if self.stage in (Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.EVANGELIST):
            raise ValueError("rules may set subscriber, lead or other; later stages follow qualification")
        return self

    def matches(self, event: TrackedEvent) -> bool:
        if not self.enabled or self.event_type not in ("any", event.type):
            return False
        if self.event_name is not None:
            name = event_field(event, "event")
            if name is None or not fnmatch.fnmatchcase(_text(name), _text(self.event_name)):
                return False
        return all(condition.holds(event_field(event, condition.field)) for condition in self.conditions)


class FitRule(_Model):
    """Points for who the person is: all conditions on the profile's traits hold."""

    kind: Literal["fit"] = "fit"
    rule_id: RuleId = Field(alias="ruleId")
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    conditions: list[Condition] = Field(min_length=1, max_length=20)
    points: StorableInt = Field(ge=-1000, le=1000)

    def matches(self, traits: Mapping[str, Any]) -> bool:
        return self.enabled and all(
            condition.holds(trait_field(traits, condition.field)) for condition in self.conditions
        )


ScoringRule = Annotated[EngagementRule | FitRule, Field(discriminator="kind")]


class AssignmentRule(_Model):
    """Leads whose traits match go to `owner` (a sales user's email or user name); lowest priority first."""

    rule_id: RuleId = Field(alias="ruleId")
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    priority: StorableInt = Field(default=100, ge=0, le=10_000)
    conditions: list[Condition] = Field(min_length=1, max_length=20)
    owner: str = Field(min_length=1, max_length=320)

    def matches(self, traits: Mapping[str, Any]) -> bool:
        return self.enabled and all(
            condition.holds(trait_field(traits, condition.field)) for condition in self.conditions
        )


class ScoringSettings(_Model):
    half_life_days: StorableFloat = Field(default=DEFAULT_HALF_LIFE_DAYS, alias="halfLifeDays", ge=1, le=3650)
    # A known person becomes marketing-qualified when engagement and fit both reach these.
    mql_engagement: StorableFloat = Field(default=100, alias="mqlEngagement", gt=0, le=100_000)
    mql_fit: StorableInt = Field(default=20, alias="mqlFit", ge=-100_000, le=100_000)
    # A submission of a form marked hand-raiser qualifies at once, whatever the scores.
    hand_raiser_qualifies: bool = Field(default=True, alias="handRaiserQualifies")
    # Letter grades by fit: the best letter whose lower bound the fit score reaches; below all: D.
    grades: dict[str, StorableInt] = Field(default_factory=lambda: {"A": 50, "B": 35, "C": 20}, max_length=10)


class ScoringConfig(Model):
    """Everything scoring and assignment read, loaded together."""

    engagement: list[EngagementRule] = Field(default_factory=list)
    fit: list[FitRule] = Field(default_factory=list)
    assignment: list[AssignmentRule] = Field(default_factory=list)
    settings: ScoringSettings = Field(default_factory=ScoringSettings)

    def fit_score(self, traits: Mapping[str, Any]) -> int:
        return sum(rule.points for rule in self.fit if rule.matches(traits))

    def owner_rule(self, traits: Mapping[str, Any]) -> AssignmentRule | None:
        ordered = sorted(self.assignment, key=lambda rule: (rule.priority, rule.rule_id))
        return next((rule for rule in ordered if rule.matches(traits)), None)


# --- reading fields ------------------------------------------------------------------------------------
def event_field(event: TrackedEvent, name: str) -> Any:
    for alternative in name.split("|"):
        found = _event_field(event, alternative.strip())
        if found is not None:
            return found
    return None


def _event_field(event: TrackedEvent, name: str) -> Any:
    root, _, rest = name.partition(".")
    if rest and root in ("properties", "context", "traits"):
        return _dig(
            {"properties": event.properties, "context": event.context, "traits": event.all_traits}, name
        )
    page = event.context.get("page")
    page = page if isinstance(page, dict) else {}
    url = page.get("url") or event.properties.get("url")
    derived = {
        "event": event.event if event.type == "track" else event.name,
        "type": event.type,
        "url": url,
        "path": page.get("path")
        or event.properties.get("path")
        or (urlsplit(str(url)).path if url else None),
    }
    if name in derived:
        return derived[name]
    return event.properties.get(name)  # formId, emailId and other top-level properties


def trait_field(traits: Mapping[str, Any], name: str) -> Any:
    for alternative in name.split("|"):
        found = _dig(traits, alternative.strip())
        if found is not None:
            return found
    return None


def _dig(data: Mapping[str, Any], path: str) -> Any:
    found: Any = data
    for part in path.split("."):
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float | Decimal):
        try:
            if value == int(value):
                return str(int(value))  # 50.0 and Decimal("50") read as "50", as people write it
        except (ValueError, OverflowError):  # NaN, infinity
            pass
    return str(value).strip().lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return None


# --- defaults, seeded into an empty table ---------------------------------------------------------------
def _c(field: str, op: Operator, value: str | float | list[str] | None = None) -> Condition:
    return Condition(field=field, op=op, value=value)


DEFAULT_ENGAGEMENT_RULES = (
    EngagementRule(
        rule_id="email-open", name="Email opened", event_type="track", event_name="Email Opened",
        points=10, daily_cap=3,
    ),
    EngagementRule(rule_id="page-view", name="Page view", event_type="page", points=5, daily_cap=10),
    EngagementRule(
        rule_id="pricing-page", name="Pricing page", event_type="page",
        conditions=[_c("url|path", "glob", "*/pricing*")], points=20, daily_cap=1,
        add_tags=["interest:pricing"],
    ),
    EngagementRule(
        rule_id="content-download", name="Content download", event_type="track",
        event_name="Content Downloaded", points=40, daily_cap=2, add_tags=["engaged:content"],
    ),
    EngagementRule(
        rule_id="asset-download", name="Asset downloaded (website)", event_type="track",
        event_name="Asset Downloaded", points=40, daily_cap=2, add_tags=["engaged:content"],
    ),
    EngagementRule(
        rule_id="form-submit", name="Form submitted", event_type="track", event_name="Form Submitted",
        points=30, daily_cap=3, stage=Stage.LEAD,
    ),
    EngagementRule(
        rule_id="unsubscribe", name="Unsubscribed", event_type="track", event_name="Unsubscribed",
        points=-50, add_tags=["unsubscribed"],
    ),
    EngagementRule(
        rule_id="hard-bounce", name="Hard bounce", event_type="track", event_name="Email Bounced",
        conditions=[_c("properties.bounceType", "one_of", ["hard", "permanent"])], points=-100,
        add_tags=["bounced"],
    ),
)  # fmt: skip

DEFAULT_FIT_RULES = (
    FitRule(
        rule_id="senior-title", name="Senior job title",
        conditions=[
            _c(
                "title|jobTitle", "contains",
                ["chief", "ceo", "cto", "cmo", "cfo", "cio", "vp", "vice president", "director", "head of",
                 "founder", "owner", "partner"],
            )
        ],
        points=20,
    ),
    FitRule(
        rule_id="company-50", name="Company of 50+ people",
        conditions=[_c("employees|company.employee_count|companySize", "gte", 50)], points=10,
    ),
    FitRule(
        rule_id="company-500", name="Company of 500+ people",
        conditions=[_c("employees|company.employee_count|companySize", "gte", 500)], points=15,
    ),
    FitRule(
        rule_id="target-country", name="Target country",
        conditions=[
            _c(
                "country|address.country", "one_of",
                ["us", "usa", "united states", "gb", "uk", "united kingdom", "de", "germany", "fr",
                 "france", "ca", "canada"],
            )
        ],
        points=10,
    ),
    FitRule(
        rule_id="business-email", name="Email at a business domain",
        conditions=[_c("email", "not_free_mail")], points=15,
    ),
    FitRule(
        rule_id="named-company", name="Named their company",
        conditions=[_c("company.name|company", "exists")], points=5,
    ),
)  # fmt: skip

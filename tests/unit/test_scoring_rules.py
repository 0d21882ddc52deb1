"""Rule matching, fit, grades, assignment, and the scorer's decisions, on plain models (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from leadstream.events import SegmentMessage, TrackedEvent
from leadstream.profiles import IdentityRef, Profile
from leadstream.scores import Stage, grade_for
from scoring.engagement import Scorer
from scoring.rules import (
    DEFAULT_ENGAGEMENT_RULES,
    DEFAULT_FIT_RULES,
    AssignmentRule,
    Condition,
    EngagementRule,
    ScoringConfig,
    ScoringSettings,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONFIG = ScoringConfig(engagement=list(DEFAULT_ENGAGEMENT_RULES), fit=list(DEFAULT_FIT_RULES))


def event(
    kind: str = "track", *, minutes: int = 0, message_id: str | None = None, **fields: Any
) -> TrackedEvent:
    at = T0 + timedelta(minutes=minutes)
    raw = {"type": kind, "anonymousId": "a1", "messageId": message_id or f"m-{kind}-{minutes}", **fields}
    return SegmentMessage.model_validate({**raw, "timestamp": at.isoformat()}).to_tracked("src", at)


def known(**traits: Any) -> Profile:
    profile = Profile(profile_id="p1", email="jo@acme.io", traits=traits)
    profile.add_identity(IdentityRef(kind="email", value="jo@acme.io"))
    return profile


@pytest.mark.parametrize(
    ("condition", "found", "holds"),
    [
        (Condition(field="url", op="glob", value="*/pricing*"), "https://x.io/pricing/teams", True),
        (Condition(field="url", op="glob", value="*/pricing*"), "https://x.io/docs", False),
        (Condition(field="title", op="contains", value=["vp", "chief"]), "Chief of Staff", True),
        (Condition(field="country", op="one_of", value=["de", "at"]), "DE", True),
        (Condition(field="employees", op="gte", value=50), "1,200", True),
        (Condition(field="employees", op="lte", value=50), 51, False),
        (Condition(field="employees", op="gte", value=50), "many", False),
        (Condition(field="formId", op="equals", value="demo"), "Demo", True),
        (Condition(field="formId", op="not_equals", value="demo"), None, True),
        (Condition(field="company", op="exists"), "", False),
        (Condition(field="email", op="not_free_mail"), "jo@acme.io", True),
        (Condition(field="email", op="not_free_mail"), "jo@Gmail.com", False),
        (Condition(field="email", op="free_mail"), "not an address", False),
        (Condition(field="handRaiser", op="equals", value="true"), True, True),
    ],
)
def test_conditions(condition: Condition, found: Any, holds: bool) -> None:
    assert condition.holds(found) is holds


def test_a_condition_says_what_it_needs() -> None:
    with pytest.raises(ValidationError, match="needs a value"):
        Condition(field="url", op="glob")
    with pytest.raises(ValidationError, match="needs a number"):
        Condition(field="employees", op="gte", value="fifty")
    with pytest.raises(ValidationError, match="a rule needs points"):
        EngagementRule(rule_id="nothing", name="Does nothing")
    with pytest.raises(ValidationError, match="later stages follow qualification"):
        EngagementRule(rule_id="jump", name="Jump", stage=Stage.CUSTOMER)


def test_rules_match_on_type_name_and_fields() -> None:
    pricing = next(rule for rule in DEFAULT_ENGAGEMENT_RULES if rule.rule_id == "pricing-page")
    assert pricing.matches(event("page", context={"page": {"url": "https://x.io/pricing"}}))
    assert pricing.matches(event("page", properties={"path": "/pricing"}))
    assert not pricing.matches(event("page", context={"page": {"url": "https://x.io/blog"}}))
    bounce = next(rule for rule in DEFAULT_ENGAGEMENT_RULES if rule.rule_id == "hard-bounce")
    assert bounce.matches(event(event="Email Bounced", properties={"bounceType": "Permanent"}))
    assert not bounce.matches(event(event="Email Bounced", properties={"bounceType": "transient"}))
    glob = EngagementRule(rule_id="emails", name="Any email event", event_name="Email *", points=1)
    assert glob.matches(event(event="Email Link Clicked"))
    assert not glob.matches(event(event="Signed Up"))


def test_fit_grade_and_assignment() -> None:
    traits = {"title": "VP Engineering", "company": {"name": "Acme", "employee_count": 800}, "country": "US"}
    fit = CONFIG.fit_score({**traits, "email": "jo@acme.io"})
    assert fit == 20 + 10 + 15 + 10 + 15 + 5
    assert grade_for(fit, CONFIG.settings.grades) == "A"
    assert grade_for(21, {"A": 50, "B": 35, "C": 20}) == "C"
    assert grade_for(3, {"A": 50, "B": 35, "C": 20}) == "D"
    rules = ScoringConfig(
        assignment=[
            AssignmentRule(
                rule_id="big", name="Big", priority=5, owner="a@x.io",
                conditions=[Condition(field="company.employee_count", op="gte", value=500)],
            ),
            AssignmentRule(
                rule_id="us", name="US", priority=1, owner="b@x.io",
                conditions=[Condition(field="country", op="equals", value="us")],
            ),
        ]
    )  # fmt: skip
    chosen = rules.owner_rule(traits)
    assert chosen is not None
    assert chosen.rule_id == "us"  # the lower priority number wins
    assert rules.owner_rule({"country": "FR"}) is None


def test_caps_once_rules_and_redelivery() -> None:
    scorer = Scorer(CONFIG.model_copy(update={"settings": ScoringSettings(mql_engagement=1000)}))
    profile = known()
    for minute in range(12):
        scorer(profile, event("page", minutes=minute, context={"page": {"url": "https://x.io/docs"}}))
    assert profile.score.engagement_at(T0 + timedelta(minutes=11)) == pytest.approx(50, rel=1e-3)  # 10 a day
    before = profile.model_copy(deep=True)
    scorer(profile, event("page", minutes=3, context={"page": {"url": "https://x.io/docs"}}))  # redelivered
    assert profile == before


def test_a_hand_raiser_qualifies_a_known_person_once() -> None:
    scorer = Scorer(CONFIG)
    demo = {"event": "Form Submitted", "properties": {"formId": "demo", "handRaiser": True}}
    profile = known()
    scorer(profile, event(**demo))
    assert profile.stage is Stage.MQL
    assert profile.score.handoff is not None
    assert (profile.score.handoff.number, profile.score.handoff.form_id) == (1, "demo")
    scorer(profile, event(minutes=5, message_id="again", **demo))  # already MQL: no second handoff
    assert profile.score.handoff.number == 1
    anonymous = Profile(profile_id="p2")
    scorer(anonymous, event(**demo))
    assert anonymous.score.handoff is None  # nobody to hand over without a name or an address


def test_automatic_stages_only_move_forward() -> None:
    scorer = Scorer(CONFIG)
    profile = known()
    profile.move_to(Stage.CUSTOMER, at="2026-01-01T00:00:00.000000Z", by="crm")
    scorer(profile, event(event="Form Submitted", properties={"formId": "newsletter"}))
    assert profile.stage is Stage.CUSTOMER
    other = known()
    other.move_to(Stage.OTHER, at="2026-01-01T00:00:00.000000Z", by="admin")
    scorer(other, event(event="Form Submitted", properties={"formId": "demo", "handRaiser": True}))
    assert other.stage is Stage.OTHER
    assert other.score.handoff is None

"""Scoring on moto, through the stream handler: points, tags, stages, decay, and the handoff to sales
(lead, owner, email, bus event), each exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from scoring_support import T0, Stream, add_sales_user, bus_events, sent_emails, tracked

from crm.lead_record import LEAD
from crm.leads import LeadStatus, handoff_lead_id
from crm.lifecycle import accept_lead, disqualify_lead, reject_lead
from crm.store import records
from crm.store.leads import get_lead
from leadstream.auth import Principal, Role
from leadstream.aws import dynamodb
from leadstream.profiles import IdentityRef, Profile
from leadstream.scores import Stage
from leadstream.store import profiles as profile_store
from scoring.rules import AssignmentRule, Condition, ScoringSettings
from scoring.stages import change_stage
from scoring.store import handoffs as handoff_store
from scoring.store.config import save_assignment_rule, save_settings, scoring_config

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture
def stream(aws: Any) -> Stream:
    scoring_config()  # a warm container: rules seeded and cached
    return Stream(aws, store_events=True)


@pytest.fixture
def calls(stream: Stream) -> Counter[str]:
    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    dynamodb().meta.events.register("before-call.dynamodb", count)
    return counter


def person(email: str) -> Profile:
    profile = profile_store.profile_of(IdentityRef(kind="email", value=email))
    assert profile is not None
    return profile


def visit(anon: str, path: str, minutes: int = 0) -> Any:
    url = f"https://www.example.com{path}"
    return tracked(
        "page", anonymousId=anon, at=T0 + timedelta(minutes=minutes), context={"page": {"url": url}}
    )


def form(anon: str, email: str, *, hand_raiser: bool, minutes: int = 0, **traits: str) -> Any:
    return tracked(
        "track",
        anonymousId=anon,
        event="Form Submitted",
        at=T0 + timedelta(minutes=minutes),
        properties={"formId": "demo-request" if hand_raiser else "newsletter", "handRaiser": hand_raiser},
        context={"traits": {"email": email, **traits}},
    )


def funnel(anon: str, email: str, **traits: str) -> list[Any]:
    """Browse, read pricing, download a white paper, ask for a demo."""
    return [
        visit(anon, "/", 0),
        visit(anon, "/pricing", 1),
        tracked("track", anonymousId=anon, event="Content Downloaded", at=T0 + timedelta(minutes=2)),
        form(anon, email, hand_raiser=True, minutes=3, **traits),
    ]


# --- points, tags, stages -----------------------------------------------------------------------------
def test_events_earn_points_tags_and_stages(stream: Stream) -> None:
    save_settings(ScoringSettings(mql_engagement=1000), by="test")  # no handoff here
    stream.deliver(
        [
            visit("a1", "/", 0),
            visit("a1", "/pricing", 1),
            tracked("track", anonymousId="a1", event="Content Downloaded", at=T0 + timedelta(minutes=2)),
            form("a1", "ada@analytical.io", hand_raiser=False, minutes=3, title="VP Engineering"),
        ]
    )
    ada = person("ada@analytical.io")
    # page 5 + page 5 + pricing 20 + download 40 + form 30, a few minutes apart (decay is negligible)
    assert ada.score.engagement_at(T0 + timedelta(minutes=3)) == pytest.approx(100, abs=0.01)
    assert ada.tags == ["engaged:content", "interest:pricing"]
    assert ada.score.fit == 20 + 15  # senior title, business email
    assert ada.score.grade == "B"
    assert ada.stage is Stage.LEAD
    # The form made her known and a lead at once (its rule), without passing through subscriber.
    [change] = ada.stage_history
    assert (change.stage, change.by) == (Stage.LEAD, "rule:form-submit")
    assert ada.score.handoff is None


def test_engagement_halves_every_half_life_without_any_write(stream: Stream, calls: Counter[str]) -> None:
    stream.deliver([tracked("identify", userId="u1", traits={"email": "u1@x.io"}), visit("x", "/pricing")])
    stream.deliver([tracked("identify", userId="u1", anonymousId="x", at=T0 + timedelta(seconds=1))])
    profile = person("u1@x.io")
    half_life = timedelta(days=profile.score.half_life_days)
    now = profile.score.engagement_at(T0)
    assert now == pytest.approx(25)
    assert profile.score.engagement_at(T0 + half_life) == pytest.approx(12.5)
    assert profile.score.engagement_at(T0 + 2 * half_life) == pytest.approx(6.25)


def test_daily_caps_and_once_rules_limit_awards(stream: Stream) -> None:
    views = [visit("a2", "/pricing", minute) for minute in range(3)]
    stream.deliver([tracked("identify", userId="u2", anonymousId="a2", traits={"email": "b@x.io"}), *views])
    next_day = [visit("a2", "/pricing", 24 * 60 + 1)]
    stream.deliver(next_day)
    profile = person("b@x.io")
    # pricing (20) once per day, page view (5) each time: day 1 = 20 + 3*5, day 2 = 20 + 5 (a day older)
    day2 = T0 + timedelta(days=1, minutes=1)
    expected = (20 + 15) * 2 ** (-(day2 - T0).total_seconds() / 86400 / profile.score.half_life_days) + 25
    assert profile.score.engagement_at(day2) == pytest.approx(expected, rel=1e-3)


def test_negative_points_and_removed_tags(stream: Stream) -> None:
    stream.deliver(
        [
            tracked("identify", userId="u3", traits={"email": "c@x.io"}),
            tracked("track", userId="u3", event="Unsubscribed", at=T0 + timedelta(seconds=1)),
        ]
    )
    profile = person("c@x.io")
    assert profile.score.engagement_at(T0) == pytest.approx(-50, rel=1e-3)
    assert profile.tags == ["unsubscribed"]


# --- the handoff ----------------------------------------------------------------------------------------
def test_a_hand_raiser_is_handed_to_a_sales_rep_with_email_and_event(aws: Any, stream: Stream) -> None:
    sam = add_sales_user(aws, "sam@leadstream.test")
    assert stream.deliver(
        funnel("v1", "grace@compilers.io", name="Grace Hopper", company="Compilers Inc")
    ) == {"batchItemFailures": []}

    grace = person("grace@compilers.io")
    assert grace.stage is Stage.MQL
    assert grace.score.handoff is not None
    assert grace.score.handoff.completed
    lead = get_lead(handoff_lead_id(grace.profile_id, 1))
    assert lead is not None
    assert (lead.owner_id, lead.status, lead.email) == (sam, LeadStatus.NEW, "grace@compilers.io")
    assert (lead.first_name, lead.last_name, lead.company) == ("Grace", "Hopper", "Compilers Inc")
    assert lead.qualification["reason"] == "hand-raiser"
    assert lead.qualification["formId"] == "demo-request"

    [email] = sent_emails()
    assert email.destinations["ToAddresses"] == ["sam@leadstream.test"]
    assert "Grace Hopper (Compilers Inc)" in email.subject
    assert "viewed https://www.example.com/pricing" in email.body  # recent activity
    [event] = bus_events(aws)
    assert event["detail-type"] == "lead.qualified"
    assert event["detail"]["leadId"] == lead.lead_id
    [record] = handoff_store.records_of(grace.profile_id)
    assert record.assigned_by == "round-robin"
    assert record.email is not None
    assert record.email.status == "done"
    assert record.completed_at is not None


def test_redelivery_after_a_handoff_changes_nothing_and_sends_nothing(
    aws: Any, stream: Stream, calls: Counter[str]
) -> None:
    add_sales_user(aws, "sam@leadstream.test")
    events = funnel("v2", "ann@acme.io")
    stream.deliver(events)
    before = person("ann@acme.io")
    calls.clear()
    stream.send([stream.record(event) for event in events])
    stream.send([stream.record(event) for event in events[2:]])
    assert sum(calls[name] for name in WRITES) == 0
    assert person("ann@acme.io") == before
    assert len(sent_emails()) == 1
    assert len(bus_events(aws)) == 1


def test_round_robin_takes_turns_and_rules_pick_owners(aws: Any, stream: Stream) -> None:
    first = add_sales_user(aws, "a-rep@leadstream.test")
    second = add_sales_user(aws, "b-rep@leadstream.test")
    germany = add_sales_user(aws, "de-rep@leadstream.test")
    save_assignment_rule(
        AssignmentRule(
            rule_id="dach",
            name="DACH",
            conditions=[Condition(field="country", op="one_of", value=["de", "at", "ch"])],
            owner="de-rep@leadstream.test",
        ),
        by="test",
        create=True,
    )
    stream.deliver([form(f"r{n}", f"p{n}@corp.io", hand_raiser=True, minutes=n) for n in range(3)])
    stream.deliver([form("r9", "hans@firma.de", hand_raiser=True, country="DE")])

    owners = [get_lead(handoff_lead_id(person(f"p{n}@corp.io").profile_id, 1)) for n in range(3)]
    assert all(lead is not None for lead in owners)
    rotation = [lead.owner_id for lead in owners if lead]
    assert len(set(rotation[:2])) == 2  # consecutive handoffs go to different reps
    assert set(rotation) <= {first, second, germany}
    hans = get_lead(handoff_lead_id(person("hans@firma.de").profile_id, 1))
    assert hans is not None
    assert hans.owner_id == germany
    assert handoff_store.round_robin_position() == 3  # the rule-based handoff took no turn


def test_without_sales_users_the_lead_waits_unassigned(aws: Any, stream: Stream) -> None:
    stream.deliver([form("n1", "nobody@corp.io", hand_raiser=True)])
    lead = get_lead(handoff_lead_id(person("nobody@corp.io").profile_id, 1))
    assert lead is not None
    assert lead.owner_id is None
    assert sent_emails() == []
    assert len(bus_events(aws)) == 1


def test_a_score_crossing_the_threshold_qualifies(aws: Any, stream: Stream) -> None:
    add_sales_user(aws, "sam@leadstream.test")
    save_settings(ScoringSettings(mql_engagement=45, mql_fit=0), by="test")
    stream.deliver([tracked("identify", userId="u5", anonymousId="s5", traits={"email": "d@x.io"})])
    stream.deliver([visit("s5", "/pricing", 1)])
    assert person("d@x.io").stage is Stage.SUBSCRIBER  # 25 points
    stream.deliver([visit("s5", "/pricing/enterprise", 24 * 60)])  # next day: 25 more, decayed little
    profile = person("d@x.io")
    assert profile.stage is Stage.MQL
    assert profile.score.handoff is not None
    assert profile.score.handoff.reason == "score"


# --- sales accepts or rejects ---------------------------------------------------------------------------
def sales_rep(aws: Any) -> Principal:
    user_id = add_sales_user(aws, "sam@leadstream.test")
    return Principal(user_id=user_id, username="sam@leadstream.test", roles=frozenset({Role.SALES}))


def test_accepting_makes_the_person_sales_qualified(aws: Any, stream: Stream) -> None:
    rep = sales_rep(aws)
    stream.deliver([form("k1", "kim@corp.io", hand_raiser=True)])
    lead_id = handoff_lead_id(person("kim@corp.io").profile_id, 1)
    accepted = accept_lead(lead_id, by=rep)
    assert accepted.status is LeadStatus.ACCEPTED
    assert accepted.version == 2
    assert accept_lead(lead_id, by=rep) == get_lead(lead_id)  # again: nothing to do
    profile = person("kim@corp.io")
    assert profile.stage is Stage.SQL
    assert profile.stage_history[-1].by == f"sales:{rep.user_id}"
    entries = records.history(LEAD, lead_id, limit=10, cursor=None).items
    assert [(entry.version, entry.action, entry.by) for entry in entries] == [
        (2, "accepted", rep.user_id),  # in the same transaction as the lead and its profile
        (1, "created", "system"),  # by scoring, with the lead
    ]


def test_a_rejected_lead_goes_back_to_nurture_and_qualifies_again_only_afresh(
    aws: Any, stream: Stream
) -> None:
    rep = sales_rep(aws)
    save_settings(ScoringSettings(mql_engagement=40, mql_fit=0), by="test")
    stream.deliver([form("j1", "jo@corp.io", hand_raiser=True, minutes=0)])
    first_id = handoff_lead_id(person("jo@corp.io").profile_id, 1)
    rejected = reject_lead(first_id, reason="student, not a buyer", by=rep)
    assert rejected.status is LeadStatus.REJECTED
    stored = get_lead(first_id)
    assert stored is not None
    assert stored.status_reason == "student, not a buyer"
    assert person("jo@corp.io").stage is Stage.LEAD
    assert person("jo@corp.io").score.engagement_at(T0) == 0  # back to nurture, from zero

    stream.deliver([visit("j1", "/pricing", 5)])  # 25 since the rejection: not enough
    assert person("jo@corp.io").stage is Stage.LEAD
    stream.deliver([form("j1", "jo@corp.io", hand_raiser=True, minutes=6)])  # a new hand-raise
    profile = person("jo@corp.io")
    assert profile.stage is Stage.MQL
    assert profile.score.handoff is not None
    assert profile.score.handoff.number == 2
    assert get_lead(handoff_lead_id(profile.profile_id, 2)) is not None
    assert len(sent_emails()) == 2


def test_a_disqualified_lead_leaves_the_funnel_and_is_never_handed_over_again(
    aws: Any, stream: Stream
) -> None:
    rep = sales_rep(aws)
    stream.deliver([form("d1", "dee@rival.io", hand_raiser=True)])
    lead_id = handoff_lead_id(person("dee@rival.io").profile_id, 1)

    disqualified = disqualify_lead(lead_id, reason="a competitor", by=rep)

    assert (disqualified.status, disqualified.status_reason) == (LeadStatus.DISQUALIFIED, "a competitor")
    assert disqualify_lead(lead_id, reason="again", by=rep) == get_lead(lead_id)  # nothing to do
    profile = person("dee@rival.io")
    assert profile.stage is Stage.OTHER
    assert profile.stage_history[-1].reason == "lead disqualified: a competitor"
    stream.deliver([form("d1", "dee@rival.io", hand_raiser=True, minutes=5)])  # raises a hand again
    again = person("dee@rival.io")
    assert again.stage is Stage.OTHER
    assert again.score.handoff is not None
    assert again.score.handoff.number == 1
    assert len(sent_emails()) == 1


def test_an_admin_may_move_a_stage_back_marketing_only_forward(stream: Stream) -> None:
    from leadstream.errors import Conflict

    stream.deliver([tracked("identify", userId="u7", traits={"email": "e@x.io"})])
    profile = person("e@x.io")
    moved = change_stage(profile.profile_id, Stage.CUSTOMER, by="marketing:m1")
    assert moved.stage is Stage.CUSTOMER
    with pytest.raises(Conflict, match="admin"):
        change_stage(profile.profile_id, Stage.LEAD, by="marketing:m1")
    back = change_stage(profile.profile_id, Stage.LEAD, by="admin:a1", allow_backward=True)
    assert back.stage is Stage.LEAD
    assert person("e@x.io").stage is Stage.LEAD


def test_a_poison_record_does_not_hold_back_a_handoff(aws: Any, stream: Stream) -> None:
    add_sales_user(aws, "sam@leadstream.test")
    poison = stream.record(tracked("page", anonymousId="p0"))
    poison["dynamodb"]["NewImage"]["message"] = {"S": "{not json"}
    good = stream.record(form("p1", "fast@corp.io", hand_raiser=True))
    response = stream.send([poison, good])
    assert response == {"batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    assert person("fast@corp.io").stage is Stage.MQL
    assert len(sent_emails()) == 1


def test_a_merge_moves_tags_and_engagement_to_the_known_person(stream: Stream) -> None:
    from marketing.store import by_tag

    stream.deliver([tracked("identify", userId="u8", anonymousId="laptop", traits={"email": "m@corp.io"})])
    stream.deliver([visit("phone", "/pricing", 1)])  # an anonymous visitor: 25 points, a tag
    [anonymous] = by_tag("interest:pricing", limit=10, cursor=None)[0]
    assert anonymous.merged_into is None
    assert not anonymous.is_known

    stream.deliver([tracked("identify", userId="u8", anonymousId="phone", at=T0 + timedelta(minutes=2))])
    person = person_of_user("u8")
    [tagged] = by_tag("interest:pricing", limit=10, cursor=None)[0]
    assert tagged.profile_id == person.profile_id != anonymous.profile_id
    assert person.score.engagement_at(T0 + timedelta(minutes=1)) == pytest.approx(25)
    assert person.score.absorbed == [anonymous.profile_id]


def person_of_user(user_id: str) -> Profile:
    profile = profile_store.profile_of(IdentityRef(kind="user", value=user_id))
    assert profile is not None
    return profile

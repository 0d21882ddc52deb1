"""The closed loop's rules on plain data: what a deal or an order contributes, how stages move, and the
ownership table of the contact sync (who wins, no echo, no flapping)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from closedloop.outcomes import Deal, Order
from closedloop.sync import (
    CRM_ORIGIN,
    FieldRule,
    Owner,
    SyncSettings,
    _contact_fields,
    _profile_fields,
    crm_stamp,
    from_crm,
)
from crm.resources.contacts import Contact
from leadstream import settings
from leadstream.profiles import Profile
from leadstream.scores import Stage
from scoring.stages import move_forward, recycle

T = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def deal(**fields: Any) -> dict[str, Any]:
    return {"dealId": "d1", "name": "Rollout", "outcome": "open", "version": 1, **fields}


def test_only_a_won_deal_with_an_amount_and_currency_contributes() -> None:
    assert Deal.of(deal(outcome="won", amount="12.50", currency="EUR")).contribution == {
        ("EUR", "deals"): Decimal("12.50")
    }
    renewal = deal(outcome="won", amount="7", currency="USD", customFields={"renewalOf": "c1"})
    assert Deal.of(renewal).contribution == {("USD", "renewals"): Decimal(7)}
    assert Deal.of(deal(amount="12.50", currency="EUR")).contribution == {}
    assert Deal.of(deal(outcome="lost", amount="12.50", currency="EUR")).contribution == {}
    assert Deal.of(deal(outcome="won", amount="12.50")).contribution == {}
    assert Deal.of(deal(outcome="won", amount="NaN", currency="EUR")).contribution == {}
    lost = Deal.of(deal(outcome="lost", customFields={"lossReason": "budget"}))
    assert lost.loss_reason == "budget"


def order(**fields: Any) -> dict[str, Any]:
    totals = {"subtotal": "10", "discount": "0", "net": "10.00", "tax": "1.90", "total": "11.90"}
    return {
        "orderId": "o1",
        "name": "Seats",
        "status": "confirmed",
        "currency": "EUR",
        "totals": totals,
        **fields,
    }


def test_an_order_counts_its_net_unless_cancelled_or_the_order_of_a_deal() -> None:
    assert Order.of(order()).contribution == {("EUR", "orders"): Decimal("10.00")}
    assert Order.of(order(status="cancelled")).contribution == {}
    assert Order.of(order(dealId="d1")).contribution == {}
    assert Order.of(order(dealId="d1", repeatOf="o0")).contribution == {("EUR", "orders"): Decimal("10.00")}


@pytest.mark.parametrize(
    ("current", "wanted", "moved"),
    [
        (None, Stage.OPPORTUNITY, True),
        (Stage.SQL, Stage.OPPORTUNITY, True),
        (Stage.OPPORTUNITY, Stage.CUSTOMER, True),
        (Stage.CUSTOMER, Stage.OPPORTUNITY, False),
        (Stage.EVANGELIST, Stage.CUSTOMER, False),
        (Stage.OTHER, Stage.CUSTOMER, False),
    ],
)
def test_outcomes_move_a_person_forward_only_and_never_over_other(
    current: Stage | None, wanted: Stage, moved: bool
) -> None:
    profile = Profile(profile_id="p", stage=current)
    assert move_forward(profile, wanted, at="2026-11-23T12:00:00.000000Z", by="crm", reason="r") is moved
    assert profile.stage == (wanted if moved else current)


@pytest.mark.parametrize("current", [Stage.MQL, Stage.SQL, Stage.OPPORTUNITY])
def test_a_recycle_goes_back_to_nurture_with_engagement_reset(current: Stage) -> None:
    profile = Profile(profile_id="p", stage=current)
    profile.score.add_points(50, T)
    assert recycle(profile, at="2026-11-23T12:00:00.000000Z", by="crm", reason="deal lost: X")
    assert profile.stage is Stage.LEAD
    assert profile.stage_history[-1].reason == "deal lost: X"
    assert profile.score.engagement_at(T) == 0


@pytest.mark.parametrize("current", [None, Stage.LEAD, Stage.CUSTOMER, Stage.OTHER])
def test_customers_and_people_outside_the_funnel_are_never_recycled(current: Stage | None) -> None:
    profile = Profile(profile_id="p", stage=current)
    assert not recycle(profile, at="x", by="crm", reason="r")
    assert profile.stage == current


def contact_image(**fields: Any) -> dict[str, Any]:
    return {
        "contactId": "c1",
        "version": 2,
        "lastName": "Lovelace",
        "updatedAt": "2026-11-23T12:00:00.000000Z",
        **fields,
    }


def test_a_crm_edit_writes_crm_owned_fields_with_a_stamp_that_says_where_it_came_from() -> None:
    profile = Profile(
        profile_id="p", traits={"firstName": "Ada"}, trait_stamps={"firstName": "2026-11-23T13:00|..|m|src"}
    )
    new = contact_image(firstName="Augusta")
    assert _contact_fields(profile, contact_image(), new)
    assert profile.traits["firstName"] == "Augusta"  # the CRM owns it: wins over a newer event
    assert from_crm(profile.trait_stamps["firstName"])
    assert profile.trait_stamps["firstName"] == crm_stamp(new)
    assert crm_stamp(new).endswith(f"|{CRM_ORIGIN}")
    # The same edit again (a redelivery) changes nothing.
    assert not _contact_fields(profile, contact_image(), new)


def test_newest_wins_compares_the_times_of_both_sides() -> None:
    newer_trait = "2026-11-23T13:00:00.000000Z|x|m|src"
    profile = Profile(profile_id="p", traits={"title": "CTO"}, trait_stamps={"title": newer_trait})
    assert not _contact_fields(profile, contact_image(), contact_image(title="Engineer"))
    assert profile.traits["title"] == "CTO"
    older_trait = "2026-11-23T11:00:00.000000Z|x|m|src"
    profile = Profile(profile_id="p", traits={"title": "CTO"}, trait_stamps={"title": older_trait})
    assert _contact_fields(profile, contact_image(), contact_image(title="Engineer"))
    assert profile.traits["title"] == "Engineer"


def contact(**fields: Any) -> Contact:
    return Contact.model_validate(
        {"contactId": "c1", "lastName": "Lovelace", "createdAt": T, "updatedAt": T, **fields}
    )


def test_a_profile_change_fills_crm_owned_fields_only_when_empty_and_skips_values_the_crm_refuses() -> None:
    before = contact(firstName="Augusta")
    later = "2026-11-23T13:00:00.000000Z|x|m|src"
    changes = [
        ("firstName", Owner.CRM, "Ada", later),
        ("phone", Owner.CRM, "x" * 500, later),  # too long for a phone: the CRM would refuse it
        ("title", Owner.NEWEST, "Analyst", later),
    ]
    after = _profile_fields(before, changes)
    assert after is not None
    assert (after.first_name, after.phone, after.title) == ("Augusta", None, "Analyst")
    # Nothing to change: no write at all (an echo of the contact's own values costs nothing).
    assert _profile_fields(after, [("title", Owner.NEWEST, "Analyst", later)]) is None
    older = "2026-11-23T11:00:00.000000Z|x|m|src"
    assert _profile_fields(after, [("title", Owner.NEWEST, "Intern", older)]) is None


def test_mapped_custom_fields_come_from_the_environment_and_must_be_custom_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "CLOSEDLOOP_FIELD_MAP",
        '[{"contact": "customFields.region", "trait": "region", "owner": "marketing"}]',
    )
    assert settings.load(SyncSettings).field_map == (
        FieldRule(contact="customFields.region", trait="region", owner=Owner.MARKETING),
    )
    monkeypatch.setenv(
        "CLOSEDLOOP_FIELD_MAP", '[{"contact": "email", "trait": "email", "owner": "marketing"}]'
    )
    with pytest.raises(settings.ConfigurationError, match="customFields"):
        settings.load(SyncSettings)
    monkeypatch.setenv("CLOSEDLOOP_FIELD_MAP", "{not json")
    with pytest.raises((settings.ConfigurationError, ValueError)):
        settings.load(SyncSettings)


def test_a_mapped_field_owned_by_marketing_flows_from_the_crm_only_into_an_empty_trait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "CLOSEDLOOP_FIELD_MAP",
        '[{"contact": "customFields.region", "trait": "region", "owner": "marketing"}]',
    )
    profile = Profile(profile_id="p", traits={"region": "EMEA"})
    assert not _contact_fields(profile, contact_image(), contact_image(customFields={"region": "APAC"}))
    empty = Profile(profile_id="p")
    assert _contact_fields(empty, contact_image(), contact_image(customFields={"region": "APAC"}))
    assert empty.traits["region"] == "APAC"
    after = _profile_fields(contact(), [("customFields.region", Owner.MARKETING, "EMEA", "t")])
    assert after is not None
    assert after.custom_fields == {"region": "EMEA"}


@pytest.mark.parametrize(
    ("value", "group"),
    [
        ("fabrikam.io", "fabrikam.io"),
        (42, "42"),
        ("", None),
        ("undefined", None),
        ("x" * 5000, None),
        ({"id": "g"}, None),
        (True, None),
        (["g"], None),
    ],
)
def test_only_a_usable_group_id_rolls_a_person_up(value: Any, group: str | None) -> None:
    from closedloop.accounts import _group

    assert _group({"traits": {"groupId": value}}) == group
    assert _group({"traits": "not a map"}) is None
    assert _group(None) is None

"""Leads in the CRM: what sales may see, working, accepting, rejecting, disqualifying and converting them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from crm_support import Crm

from crm.leads import Lead, LeadOrigin, LeadStatus, handoff_lead_id
from crm.lifecycle import create_lead_once

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def handed_over(status: LeadStatus = LeadStatus.NEW, *, number: int = 1, **fields: Any) -> str:
    """A lead as scoring hands it over (crm.lifecycle.create_lead_once); its id."""
    lead = Lead(
        lead_id=handoff_lead_id(f"profile-{number}", 1),
        origin=LeadOrigin.SCORING,
        profile_id=f"profile-{number}",
        status=status,
        email=f"person{number}@example.com",
        last_name=f"Person {number}",
        company="Initech",
        qualification={"reason": "score", "engagement": 52.5},
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )
    assert create_lead_once(lead)
    return lead.lead_id


@pytest.mark.parametrize("hidden", [LeadStatus.REJECTED, LeadStatus.DISQUALIFIED, LeadStatus.RECYCLED])
def test_sales_never_sees_a_lead_it_may_not_work(
    sales: Crm, admin: Crm, aws: Any, hidden: LeadStatus
) -> None:
    visible = handed_over(number=1)
    invisible = handed_over(hidden, number=2)

    listed = [lead["leadId"] for lead in sales.ok(sales.get("/crm/leads"))["items"]]

    assert listed == [visible]
    assert sales.get(f"/crm/leads/{invisible}").status == 404
    assert sales.get(f"/crm/leads/{invisible}/history").status == 404
    assert sales.post(f"/crm/leads/{invisible}/convert", {}).status == 404
    assert admin.get(f"/crm/leads/{invisible}").status == 200  # an admin can still look it up


def test_a_rep_enters_and_works_a_lead(sales: Crm) -> None:
    lead = sales.created("/crm/leads", {"email": "Grace@Navy.mil", "lastName": "Hopper", "company": "Navy"})
    path = f"/crm/leads/{lead['leadId']}"

    working = sales.patch(path, {"status": "working", "title": "Rear admiral"}, if_match='"1"')
    jumped = sales.patch(path, {"status": "accepted"}, if_match='"2"')

    assert (lead["origin"], lead["status"], lead["email"]) == ("manual", "new", "grace@navy.mil")
    assert working.json()["status"] == "working"
    assert jumped.status == 422  # accepted, rejected ... are actions, not field edits
    assert sales.post("/crm/leads", {"company": "Nobody"}).status == 422  # needs an email or a name


def test_accepting_records_who_accepted(sales: Crm, aws: Any) -> None:
    lead_id = handed_over()

    reply = sales.post(f"/crm/leads/{lead_id}/accept", {})

    assert reply.status == 200
    assert reply.json()["status"] == "accepted"
    assert reply.headers["etag"] == '"2"'
    entry = sales.ok(sales.get(f"/crm/leads/{lead_id}/history"))["items"][0]
    assert entry["action"] == "accepted"
    assert {"field": "status", "before": "new", "after": "accepted"} in entry["changes"]


def test_rejecting_needs_a_reason_and_sends_the_lead_back(sales: Crm, aws: Any) -> None:
    lead_id = handed_over()

    no_reason = sales.post(f"/crm/leads/{lead_id}/reject", {"reason": ""})
    rejected = sales.post(f"/crm/leads/{lead_id}/reject", {"reason": "a student"})

    assert no_reason.status == 422
    assert rejected.status == 200
    assert (rejected.json()["status"], rejected.json()["statusReason"]) == ("rejected", "a student")
    assert sales.ok(sales.get("/crm/leads"))["items"] == []


def test_disqualifying_and_a_stale_if_match(sales: Crm, aws: Any) -> None:
    lead_id = handed_over()

    stale = sales.post(f"/crm/leads/{lead_id}/disqualify", {"reason": "competitor"}, if_match='"7"')
    done = sales.post(f"/crm/leads/{lead_id}/disqualify", {"reason": "competitor"}, if_match='"1"')

    assert stale.status == 412
    assert done.status == 200
    assert done.json()["status"] == "disqualified"
    assert sales.get(f"/crm/leads/{lead_id}").status == 404


def test_converting_makes_contact_account_and_deal_in_one_step(sales: Crm, aws: Any) -> None:
    lead_id = handed_over(country="de", phone="+49 30 1")

    reply = sales.post(f"/crm/leads/{lead_id}/convert", {"deal": {"amount": "5000.00", "currency": "EUR"}})

    assert reply.status == 200
    result = reply.json()
    lead, contact, account, deal = result["lead"], result["contact"], result["account"], result["deal"]
    assert lead["status"] == "converted"
    assert (lead["contactId"], lead["accountId"], lead["dealId"]) == (
        contact["contactId"],
        account["accountId"],
        deal["dealId"],
    )
    assert (account["name"], account["address"]) == ("Initech", {"country": "DE", **_no_address_fields()})
    assert (contact["email"], contact["phone"], contact["accountId"]) == (
        "person1@example.com",
        "+49 30 1",
        account["accountId"],
    )
    assert (contact["profileId"], contact["leadId"]) == ("profile-1", lead_id)  # the 360 view link
    assert (deal["accountId"], deal["contactId"], deal["amount"], deal["stageId"]) == (
        account["accountId"],
        contact["contactId"],
        "5000.00",
        "qualification",
    )
    actions = [entry["action"] for entry in sales.ok(sales.get(f"/crm/leads/{lead_id}/history"))["items"]]
    assert actions == ["converted", "accepted", "created"]  # accepted on the way; scoring created it


def test_converting_again_returns_the_same_records(sales: Crm, aws: Any) -> None:
    lead_id = handed_over()
    first = sales.ok(sales.post(f"/crm/leads/{lead_id}/convert", {}))

    again = sales.ok(sales.post(f"/crm/leads/{lead_id}/convert", {}))

    assert again == first
    assert len(sales.ok(sales.get("/crm/accounts"))["items"]) == 1


def test_converting_into_an_existing_contact_fills_only_its_empty_fields(sales: Crm, aws: Any) -> None:
    account = sales.created("/crm/accounts", {"name": "Initech Holding"})
    contact = sales.created(
        "/crm/contacts",
        {
            "lastName": "Known",
            "email": "person1@example.com",
            "title": "CFO",
            "accountId": account["accountId"],
        },
    )
    lead_id = handed_over(title="Intern", phone="+1 555", first_name="Pat")

    result = sales.ok(sales.post(f"/crm/leads/{lead_id}/convert", {"createDeal": False}))

    assert result["contact"]["contactId"] == contact["contactId"]  # found by email
    assert result["account"]["accountId"] == account["accountId"]  # the contact's account
    assert result["deal"] is None
    merged = result["contact"]
    assert (merged["lastName"], merged["title"]) == ("Known", "CFO")  # what sales typed stays
    assert (merged["firstName"], merged["phone"]) == ("Pat", "+1 555")  # empty fields are filled
    history = sales.ok(sales.get(f"/crm/contacts/{contact['contactId']}/history"))["items"]
    assert history[0]["action"] == "filled from lead"
    assert sales.ok(sales.get(f"/crm/accounts/{account['accountId']}"))["name"] == "Initech Holding"


def test_converting_to_a_named_account_that_does_not_exist_changes_nothing(sales: Crm, aws: Any) -> None:
    lead_id = handed_over()

    reply = sales.post(f"/crm/leads/{lead_id}/convert", {"accountId": "nope"})

    assert reply.status == 422
    assert reply.json()["errors"] == [{"field": "accountId", "message": "no account nope"}]
    assert sales.ok(sales.get("/crm/contacts"))["items"] == []


def _no_address_fields() -> dict[str, None]:
    return {"street": None, "city": None, "region": None, "postalCode": None}

"""Activities and notes linked to contacts, accounts and deals; an account's timeline and its contacts'
marketing side."""

from __future__ import annotations

from typing import Any

from crm_support import Crm


def test_an_activity_takes_its_account_from_its_deal(sales: Crm) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme"})
    deal = sales.created("/crm/deals", {"name": "Pilot", "accountId": account["accountId"]})

    demo = sales.created(
        "/crm/activities",
        {
            "type": "demo",
            "subject": "Product demo",
            "dealId": deal["dealId"],
            "dueAt": "2026-12-01T15:00:00+01:00",
        },
    )

    assert demo["accountId"] == account["accountId"]
    assert (demo["status"], demo["dueAt"]) == ("planned", "2026-12-01T14:00:00.000000Z")
    listed = sales.ok(sales.get("/crm/activities", query=f"accountId={account['accountId']}&type=demo"))
    assert [activity["activityId"] for activity in listed["items"]] == [demo["activityId"]]


def test_completing_an_activity_records_when_and_how_it_went(sales: Crm) -> None:
    call = sales.created("/crm/activities", {"type": "call", "subject": "Intro call"})
    path = f"/crm/activities/{call['activityId']}"

    done = sales.ok(sales.patch(path, {"status": "done", "outcome": "connected"}, if_match='"1"'))

    assert done["completedAt"] is not None
    assert done["dueAt"] is not None  # a logged call is due when it was logged
    assert (
        sales.ok(sales.get("/crm/activities", query="ownerId=me&status=done"))["items"][0]["outcome"]
        == "connected"
    )


def test_activities_due_in_a_range(sales: Crm) -> None:
    for day in ("2026-12-01", "2026-12-08", "2026-12-15"):
        sales.created(
            "/crm/activities", {"type": "task", "subject": f"Follow up {day}", "dueAt": f"{day}T09:00:00Z"}
        )

    week = sales.ok(sales.get("/crm/activities", query="dueFrom=2026-12-02&dueTo=2026-12-08"))["items"]

    assert [activity["subject"] for activity in week] == ["Follow up 2026-12-08"]


def test_links_must_exist(sales: Crm) -> None:
    reply = sales.post("/crm/notes", {"body": "hello", "dealId": "nope", "contactId": "nada"})

    assert reply.status == 422
    assert {error["field"] for error in reply.json()["errors"]} == {"dealId", "contactId"}


def test_the_account_timeline_shows_what_happened_newest_first(sales: Crm) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme"})
    account_id = account["accountId"]
    contact = sales.created("/crm/contacts", {"lastName": "Lovelace", "accountId": account_id})
    deal = sales.created("/crm/deals", {"name": "Pilot", "accountId": account_id})
    sales.ok(sales.patch(f"/crm/deals/{deal['dealId']}", {"stageId": "demo"}, if_match='"1"'))
    sales.ok(
        sales.patch(f"/crm/deals/{deal['dealId']}", {"description": "not on the timeline"}, if_match='"2"')
    )
    sales.created("/crm/notes", {"body": "Budget approved\nfor Q1", "contactId": contact["contactId"]})

    page = sales.ok(sales.get(f"/crm/accounts/{account_id}/timeline"))

    summaries = [entry["summary"] for entry in page["items"]]
    assert summaries == [
        "Note created: Budget approved",
        "Deal Pilot: stageId qualification → demo",
        "Deal created: Pilot",
        "Contact created: Lovelace",
        "Account created: Acme",
    ]
    assert page["items"][1]["details"] == {"stageId": "demo"}
    assert page["marketing"] == []  # no contact is linked to a marketing profile yet


def test_the_timeline_pages_and_holds_contacts_marketing(sales: Crm, aws: Any) -> None:
    from datetime import UTC, datetime

    from leadstream.profiles import IdentityRef, IdentityWrite, Profile, ProfileWrite, Touch
    from leadstream.store.profiles import write_profiles

    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    touch = Touch(source="google", medium="cpc", campaign="launch", at=at, message_id="m-1", stamp="s")
    email = IdentityRef(kind="email", value="ada@example.com")
    profile = Profile(
        profile_id="p-1", version=1, email=email.value, identities=[email], first_seen=at, last_seen=at
    )
    profile.first_touch = profile.last_touch = touch
    claim = IdentityWrite(identity=email, profile_id="p-1", previous_owner=None)
    assert write_profiles([ProfileWrite(profile=profile, expected_version=0, identities=[claim])]) == []
    account = sales.created("/crm/accounts", {"name": "Acme"})
    for number in range(3):
        sales.created("/crm/notes", {"body": f"note {number}", "accountId": account["accountId"]})
    contact = sales.created(
        "/crm/contacts",
        {"lastName": "Lovelace", "email": "ada@example.com", "accountId": account["accountId"]},
    )

    first = sales.ok(sales.get(f"/crm/accounts/{account['accountId']}/timeline", query="limit=2"))
    rest = sales.ok(
        sales.get(
            f"/crm/accounts/{account['accountId']}/timeline", query=f"limit=10&cursor={first['nextCursor']}"
        )
    )

    assert len(first["items"]) + len(rest["items"]) == 5
    assert rest["nextCursor"] is None
    assert rest["marketing"] is None  # the marketing part comes with the first page only
    assert contact["profileId"] == "p-1"  # linked by email
    (known,) = first["marketing"]
    assert (known["contactId"], known["profileId"]) == (contact["contactId"], "p-1")
    assert known["firstTouch"]["campaign"] == "launch"

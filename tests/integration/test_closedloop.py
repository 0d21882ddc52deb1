"""The closed loop on moto, through the real handlers: CRM changes made over the CRM API reach the
MainChangesFunction from the main table's stream (filtered by its own template filter), and every batch
is delivered twice, as a retried batch is: stages, revenue, sync and roll-up must come out the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from closedloop_support import Client as Crm
from closedloop_support import MainStream
from scoring_support import Stream, tracked

from leadstream import keys
from leadstream.profiles import IdentityRef, Profile
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize
from leadstream.store.profiles import get_profile, profile_of
from leadstream_local.inprocess import Call

EMAIL = "ada@fabrikam.io"


@pytest.fixture
def crm(aws: Any, call_api: Call, token_for: Callable[..., str]) -> Crm:
    return Crm(call_api, token_for("sales", user="sam"))


@pytest.fixture
def marketing(aws: Any, call_api: Call, token_for: Callable[..., str]) -> Crm:
    return Crm(call_api, token_for("marketing", user="mia"))


@pytest.fixture
def loop(aws: Any) -> MainStream:
    stream = MainStream(aws)
    stream.drain()  # whatever the fixtures wrote
    return stream


def person(aws: Any, email: str, *, user_id: str, pages: int = 0, **traits: Any) -> Profile:
    """A person as tracking and scoring make them: an identify with the email, then some page views."""
    events = [tracked("identify", userId=user_id, traits={"email": email, **traits})]
    events += [
        tracked("page", userId=user_id, name=f"p{n}", properties={"url": f"https://x.io/{n}"})
        for n in range(pages)
    ]
    Stream(aws).deliver(events)
    found = profile_of(IdentityRef(kind="user", value=user_id))
    assert found is not None
    return found


def stage_of(profile_id: str) -> str | None:
    profile = get_profile(profile_id)
    assert profile is not None
    return profile.stage.value if profile.stage else None


def profile_items() -> list[dict[str, Any]]:
    """Every profile item (a test may scan; the loop never does)."""
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=get_settings().main_table)
    items = [deserialize(item) for page in pages for item in page["Items"]]
    return [item for item in items if item["sk"] == "PROFILE"]


def patch(crm: Crm, path: str, body: dict[str, Any]) -> dict[str, Any]:
    current = crm.get(path)
    assert current.status == 200, current.body
    reply = crm.patch(path, body, if_match=f'"{current.json()["version"]}"')
    assert reply.status == 200, reply.body
    document: dict[str, Any] = reply.json()
    return document


def test_a_deal_opened_then_won_makes_the_person_an_opportunity_then_a_customer_with_revenue(
    aws: Any, crm: Crm, marketing: Crm, loop: MainStream
) -> None:
    ada = person(aws, EMAIL, user_id="u-ada")
    account = crm.created("/crm/accounts", {"name": "Fabrikam"})
    contact = crm.created(
        "/crm/contacts", {"lastName": "Lovelace", "email": EMAIL, "accountId": account["accountId"]}
    )
    assert contact["profileId"] == ada.profile_id
    deal = crm.created(
        "/crm/deals",
        {"name": "Fabrikam rollout", "accountId": account["accountId"], "contactId": contact["contactId"],
         "amount": "1200.50", "currency": "EUR"},
    )  # fmt: skip
    loop.drain()
    assert stage_of(ada.profile_id) == "opportunity"

    patch(crm, f"/crm/deals/{deal['dealId']}", {"stageId": "won"})
    loop.drain()
    after = get_profile(ada.profile_id)
    assert after is not None
    assert after.stage is not None
    assert after.stage.value == "customer"
    assert [(c.stage.value, c.by, c.reason) for c in after.stage_history[-2:]] == [
        ("opportunity", "crm", "deal opened: Fabrikam rollout"),
        ("customer", "crm", "deal won: Fabrikam rollout"),
    ]
    shown = crm.ok(crm.get(f"/crm/accounts/{account['accountId']}"))
    assert shown["revenue"] == {"EUR": "1200.50"}
    view = marketing.ok(marketing.get(f"/marketing/profiles/{ada.profile_id}"))
    assert view["revenue"] == {"EUR": "1200.50"}
    assert view["stage"] == "customer"

    # Every record of the run once more, as a whole redelivered batch: nothing counts twice.
    assert loop.deliver(loop.delivered) == {"batchItemFailures": []}
    assert crm.ok(crm.get(f"/crm/accounts/{account['accountId']}"))["revenue"] == {"EUR": "1200.50"}
    assert stage_of(ada.profile_id) == "customer"

    # A won amount corrected, then the deal reopened: the revenue follows, exactly.
    patch(crm, f"/crm/deals/{deal['dealId']}", {"amount": "1000.00"})
    loop.drain()
    assert crm.ok(crm.get(f"/crm/accounts/{account['accountId']}"))["revenue"] == {"EUR": "1000.00"}
    patch(crm, f"/crm/deals/{deal['dealId']}", {"stageId": "proposal"})
    loop.drain()
    assert crm.ok(crm.get(f"/crm/accounts/{account['accountId']}"))["revenue"] == {"EUR": "0.00"}
    assert stage_of(ada.profile_id) == "customer"  # forward only: a customer stays one


def test_a_lost_deal_recycles_the_person_only_when_no_other_deal_is_open(
    aws: Any, crm: Crm, loop: MainStream
) -> None:
    ada = person(aws, EMAIL, user_id="u-ada")
    contact = crm.created("/crm/contacts", {"lastName": "Lovelace", "email": EMAIL})
    first = crm.created("/crm/deals", {"name": "Pilot", "contactId": contact["contactId"]})
    second = crm.created("/crm/deals", {"name": "Rollout", "contactId": contact["contactId"]})
    loop.drain()
    assert stage_of(ada.profile_id) == "opportunity"

    patch(crm, f"/crm/deals/{first['dealId']}", {"stageId": "lost", "customFields": {"lossReason": "budget"}})
    loop.drain()
    assert stage_of(ada.profile_id) == "opportunity"  # Rollout is still open

    patch(crm, f"/crm/deals/{second['dealId']}", {"stageId": "lost"})
    loop.drain()
    recycled = get_profile(ada.profile_id)
    assert recycled is not None
    assert recycled.stage is not None
    assert recycled.stage.value == "lead"
    assert recycled.stage_history[-1].reason == "deal lost: Rollout"
    assert recycled.score.engagement_at(recycled.last_seen or recycled.stage_history[-1].at) == 0  # type: ignore[arg-type]

    # A new deal for the recycled person makes them an opportunity again.
    crm.created("/crm/deals", {"name": "Second try", "contactId": contact["contactId"]})
    loop.drain()
    assert stage_of(ada.profile_id) == "opportunity"


def test_a_person_outside_the_funnel_stays_there(
    aws: Any, crm: Crm, marketing: Crm, loop: MainStream
) -> None:
    ada = person(aws, EMAIL, user_id="u-ada")
    reply = marketing.request("PUT", f"/marketing/profiles/{ada.profile_id}/stage", {"stage": "other"})
    assert reply.status == 200, reply.body
    contact = crm.created("/crm/contacts", {"lastName": "Lovelace", "email": EMAIL})
    deal = crm.created(
        "/crm/deals",
        {"name": "Partner deal", "contactId": contact["contactId"], "amount": "5", "currency": "USD"},
    )
    loop.drain()
    patch(crm, f"/crm/deals/{deal['dealId']}", {"stageId": "won"})
    loop.drain()
    assert stage_of(ada.profile_id) == "other"
    assert marketing.ok(marketing.get(f"/marketing/profiles/{ada.profile_id}"))["revenue"] == {"USD": "5.00"}


def test_a_contact_edit_reaches_the_profile_and_a_profile_change_comes_back_without_loops(
    aws: Any, crm: Crm, loop: MainStream
) -> None:
    ada = person(aws, EMAIL, user_id="u-ada", firstName="Ada")
    contact = crm.created("/crm/contacts", {"lastName": "Lovelace", "email": EMAIL})
    loop.drain()
    # The contact had no first name: the profile's fills it (the CRM owns it, but it was empty).
    assert crm.ok(crm.get(f"/crm/contacts/{contact['contactId']}"))["firstName"] == "Ada"
    patch(crm, f"/crm/contacts/{contact['contactId']}", {"firstName": "Augusta", "phone": "+44 20 7946 0000"})
    loop.drain()
    profile = get_profile(ada.profile_id)
    assert profile is not None
    assert profile.traits["firstName"] == "Augusta"
    assert profile.traits["lastName"] == "Lovelace"
    assert profile.traits["phone"] == "+44 20 7946 0000"
    version = profile.version

    # The website learns her title (an identify): it reaches the contact (title: newest wins) ...
    Stream(aws).deliver(
        [tracked("identify", userId="u-ada", traits={"title": "Analyst", "firstName": "Ada L."})]
    )
    loop.drain()
    synced = crm.ok(crm.get(f"/crm/contacts/{contact['contactId']}"))
    assert synced["title"] == "Analyst"
    assert synced["updatedBy"] == "marketing-sync"
    # ... but not her first name, which the CRM owns: the contact keeps what sales entered.
    assert synced["firstName"] == "Augusta"
    # No echo: the sync's own contact write did not go back to the profile, and the stream is quiet.
    after = get_profile(ada.profile_id)
    assert after is not None
    assert after.version == version + 1
    assert loop.drain() == 0
    history = crm.ok(crm.get(f"/crm/contacts/{contact['contactId']}/history"))["items"]
    assert [entry["action"] for entry in history] == ["synced", "updated", "synced", "created"]
    assert {change["field"] for change in history[0]["changes"]} == {"title"}


def test_a_changed_email_rekeys_the_person_without_a_second_profile(
    aws: Any, crm: Crm, loop: MainStream
) -> None:
    ada = person(aws, EMAIL, user_id="u-ada")
    contact = crm.created("/crm/contacts", {"lastName": "Lovelace", "email": EMAIL})
    loop.drain()
    before = len(profile_items())
    patch(crm, f"/crm/contacts/{contact['contactId']}", {"email": "ada.lovelace@fabrikam.io"})
    loop.drain()
    moved = profile_of(IdentityRef(kind="email", value="ada.lovelace@fabrikam.io"))
    assert moved is not None
    assert moved.profile_id == ada.profile_id
    assert moved.email == "ada.lovelace@fabrikam.io"
    assert IdentityRef(kind="email", value=EMAIL) in moved.identities  # the old address stays hers
    assert len(profile_items()) == before
    # Her next visit under the new address lands on the same person.
    Stream(aws).deliver(
        [tracked("identify", anonymousId="new-browser", traits={"email": "ada.lovelace@fabrikam.io"})]
    )
    assert len([item for item in profile_items() if not item.get("mergedInto")]) == before


def test_a_contact_without_a_profile_gets_one_keyed_by_its_email(
    aws: Any, crm: Crm, loop: MainStream
) -> None:
    contact = crm.created(
        "/crm/contacts", {"firstName": "Grace", "lastName": "Hopper", "email": "grace@navy.mil"}
    )
    assert contact.get("profileId") is None
    loop.drain()
    linked = crm.ok(crm.get(f"/crm/contacts/{contact['contactId']}"))
    profile = profile_of(IdentityRef(kind="email", value="grace@navy.mil"))
    assert profile is not None
    assert linked["profileId"] == profile.profile_id
    assert profile.traits["lastName"] == "Hopper"
    # Tracking later identifies the same address: the same person, not a twin.
    Stream(aws).deliver([tracked("identify", userId="u-grace", traits={"email": "grace@navy.mil"})])
    again = profile_of(IdentityRef(kind="user", value="u-grace"))
    assert again is not None
    assert again.profile_id == profile.profile_id


def test_an_account_sums_its_peoples_engagement_from_contacts_and_group_calls(
    aws: Any, crm: Crm, loop: MainStream
) -> None:
    account = crm.created("/crm/accounts", {"name": "Fabrikam", "domain": "fabrikam.io"})
    ada = person(aws, EMAIL, user_id="u-ada", pages=2)
    bob = person(aws, "bob@fabrikam.io", user_id="u-bob", pages=4)
    cy = person(aws, "cy@fabrikam.io", user_id="u-cy", pages=1)
    crm.created("/crm/contacts", {"lastName": "Lovelace", "email": EMAIL, "accountId": account["accountId"]})
    crm.created(
        "/crm/contacts",
        {"lastName": "Builder", "email": "bob@fabrikam.io", "accountId": account["accountId"]},
    )
    # Cy is no contact; her app says which company she works for (a Segment group call on the domain).
    Stream(aws).deliver([tracked("group", userId="u-cy", groupId="fabrikam.io", traits={"name": "Fabrikam"})])
    loop.drain()
    shown = crm.ok(crm.get(f"/crm/accounts/{account['accountId']}"))["engagement"]
    assert shown["people"] == 3
    top = shown["top"]
    assert [entry["profileId"] for entry in top] == [bob.profile_id, ada.profile_id, cy.profile_id]
    assert shown["summed"] == pytest.approx(sum(entry["engagement"] for entry in top), abs=0.2)
    assert top[0]["engagement"] > top[1]["engagement"] > top[2]["engagement"] > 0

    # A group call before any account claims the group: the person joins when one does.
    Stream(aws).deliver([tracked("group", userId="u-ada", groupId="contoso-42")])
    loop.drain()
    other = crm.created("/crm/accounts", {"name": "Contoso", "customFields": {"groupId": "contoso-42"}})
    loop.drain()
    assert crm.ok(crm.get(f"/crm/accounts/{other['accountId']}"))["engagement"]["people"] == 1
    # Ada moved group: Fabrikam still counts her as its contact; Cy still by her group.
    assert crm.ok(crm.get(f"/crm/accounts/{account['accountId']}"))["engagement"]["people"] == 3
    item = boto3.client("dynamodb").get_item(
        TableName=get_settings().main_table,
        Key={k: {"S": v} for k, v in keys.account_person_key(account["accountId"], ada.profile_id).items()},
    )["Item"]
    assert set(deserialize(item)["via"]) == {
        f"contact:{crm.ok(crm.get('/crm/contacts', query='email=' + EMAIL))['items'][0]['contactId']}"
    }


def test_orders_and_renewals_are_revenue_too_and_an_order_of_a_deal_is_not_counted_twice(
    aws: Any, crm: Crm, token_for: Callable[..., str], call_api: Call, loop: MainStream
) -> None:
    from closedloop.store.loop import revenue_of

    admin = Crm(call_api, token_for("admin", user="ann"))
    product = admin.created("/crm/products", {"sku": "SEAT", "name": "Seat", "prices": {"EUR": "19.99"}})
    ada = person(aws, EMAIL, user_id="u-ada")
    account = crm.created("/crm/accounts", {"name": "Fabrikam"})
    contact = crm.created(
        "/crm/contacts", {"lastName": "Lovelace", "email": EMAIL, "accountId": account["accountId"]}
    )
    line = {
        "productId": product["productId"],
        "quantity": "3",
        "discountPercent": "10",
        "taxRatePercent": "19",
    }

    def order(**extra: Any) -> dict[str, Any]:
        body = {"name": "Seats", "accountId": account["accountId"], "contactId": contact["contactId"],
                "currency": "EUR", "validUntil": "2099-01-01", "lines": [line], **extra}  # fmt: skip
        quote = crm.created("/crm/quotes", body)
        path = f"/crm/quotes/{quote['quoteId']}/status"
        crm.ok(crm.request("POST", path, {"status": "sent"}))
        accepted = crm.ok(crm.request("POST", path, {"status": "accepted"}))
        return crm.ok(crm.get(f"/crm/orders/{accepted['orderId']}"))  # type: ignore[no-any-return]

    first = order()
    assert first["totals"]["net"] == "53.97"
    loop.drain()
    assert stage_of(ada.profile_id) == "customer"  # an order makes a customer, deal or not
    assert crm.ok(crm.get(f"/crm/accounts/{account['accountId']}"))["revenue"] == {"EUR": "53.97"}

    # The order of a won deal realizes that deal: the deal's amount counts, the order adds nothing.
    deal_body = {"name": "Expansion", "contactId": contact["contactId"], "accountId": account["accountId"]}
    deal = crm.created("/crm/deals", {**deal_body, "amount": "100", "currency": "EUR"})
    patch(crm, f"/crm/deals/{deal['dealId']}", {"stageId": "won"})
    order(dealId=deal["dealId"])
    # A renewal deal won is renewal revenue.
    renewal_body = {"name": "Renewal", "contactId": contact["contactId"], "amount": "40", "currency": "EUR"}
    renewal = crm.created("/crm/deals", {**renewal_body, "customFields": {"renewalOf": "c-1"}})
    patch(crm, f"/crm/deals/{renewal['dealId']}", {"stageId": "won"})
    # A cancelled order takes its revenue back.
    cancelled = crm.request(
        "POST", f"/crm/orders/{first['orderId']}/status", {"status": "cancelled", "reason": "x"}
    )
    assert cancelled.status == 200, cancelled.body
    loop.drain()
    assert revenue_of("PROFILE", ada.profile_id)["EUR"] == {
        "total": 140,
        "deals": 100,
        "renewals": 40,
        "orders": 0,
    }
    # The renewal deal names no account: the account has the won deal only.
    assert revenue_of("ACCOUNT", account["accountId"])["EUR"]["total"] == 100


def test_a_stream_record_the_loop_cannot_read_is_reported_and_the_batch_resumes_from_it(aws: Any) -> None:
    from scoring_support import LambdaContext

    from handlers.main_changes import lambda_handler

    key = {"pk": {"S": "DEAL#x"}, "sk": {"S": "DEAL"}}
    broken = {
        "eventName": "INSERT",
        "dynamodb": {"SequenceNumber": "7", "Keys": key, "NewImage": {**key, "version": {"N": "1"}}},
    }
    other = {
        "eventName": "INSERT",
        "dynamodb": {"SequenceNumber": "6", "Keys": {"pk": {"S": "SOURCE#s"}, "sk": {"S": "SOURCE"}}},
    }
    assert lambda_handler({"Records": [other, broken]}, LambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": "7"}]
    }
    assert lambda_handler({"Records": [other]}, LambdaContext()) == {"batchItemFailures": []}

"""The commerce routes through the template's route table and JWT authorizer (moto): roles, versions,
idempotent creates, the quote -> order -> contract path, tickets and attachments."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
import pytest
from commerce_support import (
    Client,
    accepted_order,
    exact_json,
    idempotency,
    if_match,
    in_days,
    new_account,
    new_product,
    quote_body,
)

from leadstream_local.inprocess import Call


@pytest.fixture
def rep(call_api: Call, token_for: Callable[..., str]) -> Client:
    return Client(call_api, token_for("sales", "sam"))


@pytest.fixture
def boss(call_api: Call, token_for: Callable[..., str]) -> Client:
    return Client(call_api, token_for("admin", "ada"))


@pytest.fixture
def marketer(call_api: Call, token_for: Callable[..., str]) -> Client:
    return Client(call_api, token_for("marketing", "mia"))


@pytest.fixture
def quote(rep: Client, boss: Client) -> dict[str, Any]:
    product = new_product(boss)
    account = new_account(rep)
    return rep.ok("POST", "/crm/quotes", quote_body(account["accountId"], product["productId"]), status=201)  # type: ignore[no-any-return]


# Roles: every commerce route is a row of the role table in test_roles.py (401 without a token, 403 for
# each role its policy leaves out); the tests below act in the allowed roles.


# --- products and price book -------------------------------------------------------------------------
def test_the_price_book_lists_active_products_priced_in_the_currency(rep: Client, boss: Client) -> None:
    seat = new_product(boss, "SEAT", EUR="19.99", USD="21.50")
    new_product(boss, "USB", USD="5")
    old = new_product(boss, "OLD", EUR="1.00")
    boss.ok("PATCH", f"/crm/products/{old['productId']}", {"active": False}, headers=if_match(1))

    book = rep.ok("GET", "/crm/price-book/eur")
    assert book["currency"] == "EUR"
    assert book["items"] == [
        {"productId": seat["productId"], "sku": "SEAT", "name": "SEAT licence", "unitPrice": "19.99"}
    ]
    assert rep("GET", "/crm/price-book/XYZ").status == 404


def test_a_sku_is_unique(boss: Client) -> None:
    new_product(boss, "SEAT")
    reply = boss("POST", "/crm/products", {"sku": "seat", "name": "Again"})
    assert reply.status == 409
    assert reply.json()["errors"][0]["field"] == "sku"


# --- quotes ------------------------------------------------------------------------------------------
def test_a_quote_is_priced_exactly_from_the_price_book(quote: dict[str, Any]) -> None:
    (line,) = quote["lines"]
    assert (line["unitPrice"], line["subtotal"], line["discount"], line["tax"], line["total"]) == (
        "19.99",
        "59.97",
        "6.00",
        "10.25",
        "64.22",
    )
    assert quote["totals"] == {
        "subtotal": "59.97",
        "discount": "6.00",
        "net": "53.97",
        "tax": "10.25",
        "total": "64.22",
    }
    assert (quote["status"], quote["revision"], quote["version"]) == ("draft", 1, 1)


def test_amounts_sent_as_json_numbers_with_a_fraction_are_refused(rep: Client, boss: Client) -> None:
    product = new_product(boss)
    account = new_account(rep)
    body = quote_body(account["accountId"], product["productId"])
    body["lines"][0]["unitPrice"] = 19.99
    reply = rep("POST", "/crm/quotes", body)
    assert reply.status == 422
    assert reply.json()["errors"][0]["field"] == "lines.0.unitPrice"


def test_a_quote_for_an_unknown_account_or_product_is_refused(rep: Client, boss: Client) -> None:
    product = new_product(boss)
    reply = rep("POST", "/crm/quotes", quote_body("no-such-account", product["productId"]))
    assert (reply.status, reply.json()["errors"][0]["field"]) == (422, "accountId")
    account = new_account(rep)
    reply = rep("POST", "/crm/quotes", quote_body(account["accountId"], "no-such-product"))
    assert (reply.status, reply.json()["errors"][0]["field"]) == (422, "lines.0.productId")


def test_a_create_with_an_idempotency_key_makes_one_quote(rep: Client, boss: Client) -> None:
    product = new_product(boss)
    account = new_account(rep)
    body = quote_body(account["accountId"], product["productId"])
    first = rep("POST", "/crm/quotes", body, headers=idempotency("k-1"))
    again = rep("POST", "/crm/quotes", body, headers=idempotency("k-1"))
    assert (first.status, again.status) == (201, 201)
    assert first.body == again.body
    assert first.headers["location"] == again.headers["location"]
    listed = rep.ok("GET", "/crm/quotes", query=f"accountId={account['accountId']}")
    assert len(listed["items"]) == 1
    other = rep("POST", "/crm/quotes", {**body, "name": "Other"}, headers=idempotency("k-1"))
    assert other.status == 422


def test_a_change_needs_the_current_version(rep: Client, quote: dict[str, Any]) -> None:
    path = f"/crm/quotes/{quote['quoteId']}"
    assert rep("PATCH", path, {"name": "Renamed"}).status == 428
    changed = rep.ok("PATCH", path, {"name": "Renamed"}, headers=if_match(1))
    assert (changed["name"], changed["version"]) == ("Renamed", 2)
    stale = rep("PATCH", path, {"name": "Lost update"}, headers=if_match(1))
    assert stale.status == 412
    stale_move = rep("POST", f"{path}/status", {"status": "sent"}, headers=if_match(1))
    assert stale_move.status == 412
    assert rep.ok("GET", path)["name"] == "Renamed"


def test_an_invalid_transition_is_a_409_that_lists_the_allowed_ones(
    rep: Client, quote: dict[str, Any]
) -> None:
    reply = rep("POST", f"/crm/quotes/{quote['quoteId']}/status", {"status": "accepted"})
    assert reply.status == 409
    problem = reply.json()
    assert problem["detail"] == "A quote that is draft cannot become accepted; it can become sent."
    assert problem["errors"] == [{"field": "status", "message": "allowed from draft: sent"}]


def test_editing_a_sent_quote_keeps_the_sent_revision_and_starts_the_next(
    rep: Client, quote: dict[str, Any]
) -> None:
    path = f"/crm/quotes/{quote['quoteId']}"
    sent = rep.ok("POST", f"{path}/status", {"status": "sent"})
    line = {"productId": quote["lines"][0]["productId"], "quantity": "4"}
    revised = rep.ok("PATCH", path, {"lines": [line]}, headers=if_match(sent["version"]))
    assert (revised["revision"], revised["status"], revised["totals"]["total"]) == (2, "draft", "79.96")

    (kept,) = rep.ok("GET", f"{path}/revisions")["items"]
    assert (kept["revision"], kept["status"], kept["totals"]["total"]) == (1, "sent", "64.22")
    assert rep.ok("GET", f"{path}/revisions/1") == kept
    assert rep.ok("GET", f"{path}/revisions/2")["totals"]["total"] == "79.96"
    assert rep("GET", f"{path}/revisions/3").status == 404
    history = rep.ok("GET", f"{path}/history")["items"]
    assert [entry["action"] for entry in history] == ["revised", "sent", "created"]


def test_accepting_makes_one_order_even_when_the_acceptance_is_sent_twice(
    rep: Client, quote: dict[str, Any]
) -> None:
    order = accepted_order(rep, quote)
    assert (order["status"], order["quoteId"], order["totals"]) == (
        "confirmed",
        quote["quoteId"],
        quote["totals"],
    )
    again = rep("POST", f"/crm/quotes/{quote['quoteId']}/status", {"status": "accepted"})
    assert again.status == 200
    assert again.json()["orderId"] == order["orderId"]
    orders = rep.ok("GET", "/crm/orders", query=f"accountId={quote['accountId']}")["items"]
    assert [o["orderId"] for o in orders] == [order["orderId"]]
    assert rep("PATCH", f"/crm/quotes/{quote['quoteId']}", {"name": "x"}, headers=if_match(3)).status == 409


def test_an_acceptance_interrupted_before_its_order_is_finished_by_the_retry(
    rep: Client, quote: dict[str, Any], aws: Any
) -> None:
    """The quote was stored as accepted, then the function died before the order was written."""
    from crm.resources.orders import ORDER
    from crm.store import records as store

    order = accepted_order(rep, quote)
    assert store.get_record(ORDER, order["orderId"]) is not None
    table = aws.physical["MainTable"]["Ref"]
    dynamodb = boto3.client("dynamodb")
    written = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ORDER#{order['orderId']}"}},
    )["Items"]
    for item in written:  # the order and its history entry: the transaction that never happened
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    assert rep("GET", f"/crm/orders/{order['orderId']}").status == 404

    assert rep("POST", f"/crm/quotes/{quote['quoteId']}/status", {"status": "accepted"}).status == 200
    assert rep.ok("GET", f"/crm/orders/{order['orderId']}")["totals"] == quote["totals"]


# --- orders and contracts ---------------------------------------------------------------------------
def test_order_status_and_repeat(rep: Client, quote: dict[str, Any]) -> None:
    order = accepted_order(rep, quote)
    path = f"/crm/orders/{order['orderId']}"
    fulfilled = rep.ok("POST", f"{path}/status", {"status": "fulfilled"}, headers=if_match(order["version"]))
    assert fulfilled["fulfilledAt"]
    refused = rep("POST", f"{path}/status", {"status": "cancelled"})
    assert (refused.status, refused.json()["errors"][0]["message"]) == (409, "allowed from fulfilled: none")

    first = rep("POST", f"{path}/repeat", {}, headers=idempotency("again-1"))
    retry = rep("POST", f"{path}/repeat", {}, headers=idempotency("again-1"))
    assert (first.status, first.body) == (201, retry.body)
    repeat = exact_json(first)
    assert (repeat["repeatOf"], repeat["status"], repeat["lines"], repeat["totals"]) == (
        order["orderId"],
        "confirmed",
        order["lines"],
        order["totals"],
    )
    assert repeat["orderId"] != order["orderId"]


def test_an_order_creates_one_contract(rep: Client, quote: dict[str, Any]) -> None:
    order = accepted_order(rep, quote)
    path = f"/crm/orders/{order['orderId']}/contract"
    body = {"startDate": in_days(0), "endDate": in_days(365), "terms": "Annual, net 30"}
    created = rep("POST", path, body, headers=idempotency("contract-1"))
    assert created.status == 201
    contract = exact_json(created)
    assert (contract["value"], contract["currency"], contract["status"]) == ("64.22", "EUR", "active")
    assert contract["renewalDueOn"] == in_days(365 - 60)
    assert rep("POST", path, body, headers=idempotency("contract-1")).body == created.body
    again = rep("POST", path, body)
    assert again.status == 409
    assert contract["contractId"] in again.json()["detail"]
    assert rep.ok("GET", f"/crm/orders/{order['orderId']}")["contractId"] == contract["contractId"]


def test_a_contract_is_edited_while_active_and_terminated_with_a_reason(
    rep: Client, quote: dict[str, Any]
) -> None:
    order = accepted_order(rep, quote)
    contract = rep.ok(
        "POST",
        f"/crm/orders/{order['orderId']}/contract",
        {"startDate": in_days(0), "endDate": in_days(200)},
        status=201,
    )
    path = f"/crm/contracts/{contract['contractId']}"
    edited = rep.ok("PATCH", path, {"value": "1000.00", "renewalLeadDays": 90}, headers=if_match(1))
    assert (edited["value"], edited["renewalDueOn"]) == ("1000.00", in_days(110))
    assert rep("PATCH", path, {"value": "1.001"}, headers=if_match(2)).status == 422
    assert rep("POST", f"{path}/terminate", {"reason": ""}).status == 422
    ended = rep.ok("POST", f"{path}/terminate", {"reason": "Customer closed"}, headers=if_match(2))
    assert (ended["status"], ended["terminationReason"]) == ("terminated", "Customer closed")
    assert rep("POST", f"{path}/terminate", {"reason": "again"}).status == 409
    assert rep("PATCH", path, {"name": "x"}, headers=if_match(3)).status == 409


# --- tickets -----------------------------------------------------------------------------------------
def test_a_ticket_is_worked_through_its_states_and_marketing_reads_it(rep: Client, marketer: Client) -> None:
    account = new_account(rep)
    ticket = rep.ok(
        "POST",
        "/crm/tickets",
        {"subject": "Cannot log in", "accountId": account["accountId"], "priority": "high"},
        status=201,
    )
    path = f"/crm/tickets/{ticket['ticketId']}"
    assert (ticket["status"], ticket["ownerId"]) == ("new", ticket["createdBy"])
    assert rep("POST", f"{path}/status", {"status": "closed"}, headers=if_match(9)).status == 412
    resolved = rep.ok("POST", f"{path}/status", {"status": "resolved", "resolution": "Password reset"})
    assert resolved["resolvedAt"]
    closed = rep.ok("POST", f"{path}/status", {"status": "closed"})
    refused = rep("POST", f"{path}/status", {"status": "open"})
    assert (closed["status"], refused.status) == ("closed", 409)
    assert rep("PATCH", path, {"status": "open"}, headers=if_match(3)).status == 422  # not through PATCH
    assert marketer.ok("GET", path)["subject"] == "Cannot log in"
    assert marketer("POST", f"{path}/status", {"status": "open"}).status == 403
    assert rep("POST", "/crm/tickets", {"subject": "Orphan"}).status == 422


# --- attachments -------------------------------------------------------------------------------------
def test_an_attachment_is_uploaded_and_downloaded_with_presigned_urls(
    rep: Client, quote: dict[str, Any], aws: Any
) -> None:
    path = f"/crm/quotes/{quote['quoteId']}/attachments"
    assert rep("POST", path, {"fileName": "../x", "contentType": "application/pdf", "size": 3}).status == 422
    created = rep.ok(
        "POST", path, {"fileName": "Angebot ä.pdf", "contentType": "application/pdf", "size": 3}, status=201
    )
    attachment, upload = created["attachment"], created["upload"]
    assert upload["fields"]["key"] == attachment["objectKey"]
    assert attachment["objectKey"].startswith(f"attachments/quotes/{quote['quoteId']}/")
    one = f"{path}/{attachment['attachmentId']}"
    assert rep("GET", one).status == 409  # not uploaded yet

    bucket = aws.physical["AttachmentsBucket"]["Ref"]
    boto3.client("s3").put_object(
        Bucket=bucket, Key=attachment["objectKey"], Body=b"pdf", ContentType="application/pdf"
    )
    found = rep.ok("GET", one)
    assert found["attachment"] == attachment
    assert "response-content-disposition=" in found["download"]["url"]
    assert rep.ok("GET", path)["items"] == [attachment]
    assert rep("GET", "/crm/quotes/no-such-quote/attachments").status == 404


def test_money_is_never_a_json_number(rep: Client, quote: dict[str, Any]) -> None:
    for reply in (rep("GET", f"/crm/quotes/{quote['quoteId']}"), rep("GET", "/crm/quotes")):
        exact_json(reply)  # raises on any number with a fraction
    assert Decimal(quote["totals"]["total"]) == sum(Decimal(line["total"]) for line in quote["lines"])

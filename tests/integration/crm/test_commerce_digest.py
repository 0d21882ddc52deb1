"""The owners' daily digest on moto: each owner's email holds exactly their items, and is sent once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commerce_support import (
    Client,
    accepted_order,
    in_days,
    new_account,
    new_product,
    quote_body,
    scheduled,
    sent_emails,
)

from leadstream_local.auth import LOCAL_EMAIL_DOMAIN
from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate


def _contract(alice: Client, admin: Client, account: dict[str, Any], days: int, name: str) -> None:
    product = new_product(admin, sku=f"SKU-{days}")
    quote = alice.ok(
        "POST", "/crm/quotes", quote_body(account["accountId"], product["productId"]), status=201
    )
    order = accepted_order(alice, quote)
    body = {"name": name, "startDate": in_days(0), "endDate": in_days(days)}
    alice.ok("POST", f"/crm/orders/{order['orderId']}/contract", body, status=201)


def test_each_owner_gets_their_own_items_once_a_day(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    alice = Client(call_api, token_for("sales", "alice"))
    bob = Client(call_api, token_for("sales", "bob"))
    Client(call_api, token_for("marketing", "mia"))  # in the pool, but owns nothing: no digest
    admin = Client(call_api, token_for("admin", "ada"))
    account = new_account(alice)

    def activity(client: Client, subject: str, days: int, **extra: str) -> None:
        body = {"type": "task", "subject": subject, "dueAt": f"{in_days(days)}T09:00:00Z", **extra}
        client.ok("POST", "/crm/activities", body, status=201)

    def deal(client: Client, name: str, days: int) -> None:
        body = {"name": name, "amount": "5000.00", "currency": "EUR", "closeDate": in_days(days)}
        client.ok("POST", "/crm/deals", body, status=201)

    activity(alice, "Call Acme back", 0)
    activity(alice, "Send the proposal", -3)
    activity(alice, "Already done", 0, status="done")
    activity(alice, "Next week", 8)
    activity(alice, "Logged call", 0, type="call")
    deal(alice, "Acme expansion", 3)
    deal(alice, "Acme next quarter", 10)
    _contract(alice, admin, account, 30, "Acme platform")  # inside the 60-day lead time
    _contract(alice, admin, account, 300, "Acme later")
    deal(bob, "Bob's far deal", 40)  # bob has nothing for today

    run = scheduled(aws, "DigestFunction")
    first = run()
    assert first["sent"] == 1

    (email,) = sent_emails()
    assert email.destinations["ToAddresses"] == [f"alice@{LOCAL_EMAIL_DOMAIN}"]
    assert email.source == "leads@example.com"
    assert email.subject.endswith(": 2 tasks due, 1 deal closing, 1 renewal")
    text = email.body
    for wanted in (
        "Call Acme back",
        "Send the proposal (overdue)",
        "Acme expansion (EUR 5000.00)",
        "Acme platform",
    ):
        assert wanted in text
    for unwanted in ("Already done", "Next week", "Logged call", "Acme next quarter", "Acme later", "Bob"):
        assert unwanted not in text

    again = run()
    assert (again["sent"], again["alreadySent"]) == (0, 1)
    assert len(sent_emails()) == 1

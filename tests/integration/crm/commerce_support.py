"""Helpers for the commerce tests on moto: a signed-in client, the records a quote needs, scheduled
functions invoked as their schedule would, and what SES sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from leadstream_local.inprocess import Call, Reply
from leadstream_local.runtime import LambdaFunction
from leadstream_local.template import StackTemplate

ACCOUNT = "123456789012"
REGION = "us-east-1"


def today() -> date:
    return datetime.now(UTC).date()


def in_days(days: int) -> str:
    return (today() + timedelta(days=days)).isoformat()


def exact_json(reply: Reply) -> Any:
    """The body as JSON, failing if any number in it has a fraction (amounts must be strings)."""

    def refuse(text: str) -> Any:
        raise AssertionError(f"a JSON number with a fraction in the response: {text}")

    return json.loads(reply.body, parse_float=refuse)


@dataclass
class Client:
    """One signed-in user of the CRM API."""

    call_api: Call
    token: str

    def __call__(self, method: str, path: str, body: Any = b"", **kwargs: Any) -> Reply:
        return self.call_api(method, path, body=body, token=self.token, **kwargs)

    def ok(self, method: str, path: str, body: Any = b"", status: int = 200, **kwargs: Any) -> Any:
        reply = self(method, path, body, **kwargs)
        assert reply.status == status, (reply.status, reply.body)
        return exact_json(reply)


def if_match(version: int) -> list[tuple[str, str]]:
    return [("if-match", f'"{version}"')]


def idempotency(key: str) -> list[tuple[str, str]]:
    return [("idempotency-key", key)]


def new_product(admin: Client, sku: str = "SEAT", **prices: str) -> dict[str, Any]:
    body = {"sku": sku, "name": f"{sku} licence", "prices": prices or {"EUR": "19.99"}}
    return admin.ok("POST", "/crm/products", body, status=201)  # type: ignore[no-any-return]


def new_account(client: Client, name: str = "Acme") -> dict[str, Any]:
    return client.ok("POST", "/crm/accounts", {"name": name}, status=201)  # type: ignore[no-any-return]


def quote_body(account_id: str, product_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Seats for Acme",
        "accountId": account_id,
        "currency": "EUR",
        "validUntil": in_days(30),
        "lines": [
            {"productId": product_id, "quantity": "3", "discountPercent": "10", "taxRatePercent": "19"}
        ],
        **extra,
    }


def accepted_order(client: Client, quote: dict[str, Any]) -> dict[str, Any]:
    """Send and accept a quote; the order it became."""
    path = f"/crm/quotes/{quote['quoteId']}/status"
    client.ok("POST", path, {"status": "sent"})
    accepted = client.ok("POST", path, {"status": "accepted"})
    return client.ok("GET", f"/crm/orders/{accepted['orderId']}")  # type: ignore[no-any-return]


def scheduled(template: StackTemplate, logical_id: str) -> Callable[[], Any]:
    """Run a scheduled function in-process with EventBridge's Scheduled Event, as its schedule would."""
    spec = next(spec for spec in template.functions() if spec.logical_id == logical_id)
    function = LambdaFunction(spec)
    event = {
        "version": "0",
        "id": "test",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "detail": {},
    }
    return lambda: function.invoke(event)


def sent_emails() -> list[Any]:
    """What moto's SES accepted (its backend keeps every sent message)."""
    from moto.ses.models import ses_backends

    return list(ses_backends[ACCOUNT][REGION].sent_messages)

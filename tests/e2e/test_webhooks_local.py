"""Webhooks on the local stack, end to end over HTTP: an admin subscribes a receiver on loopback, a deal is
won through the CRM API, and the receiver gets `deal.won`, signed so that the `standardwebhooks` library
verifies it (main-table stream -> catalog function -> bus -> rule -> queue -> webhook function)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import requests
from standardwebhooks.webhooks import Webhook

from leadstream_local.auth import issue_token
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION

pytestmark = pytest.mark.e2e


class Hook:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.url = ""


@contextmanager
def receiver() -> Iterator[Hook]:
    """A receiver on loopback that answers 200 and keeps what it got."""
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            hook.received.append(({name.lower(): value for name, value in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def _caller(stack: LocalStack, role: str, user: str) -> Any:
    cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
    headers = {"Authorization": f"Bearer {issue_token(stack.template, cognito, role=role, user=user)}"}

    def call(method: str, path: str, body: Any = None, status: int = 200, **extra: str) -> Any:
        reply = requests.request(
            method, f"{stack.url}{path}", json=body, headers={**headers, **extra}, timeout=30
        )
        assert reply.status_code == status, (method, path, reply.status_code, reply.text)
        return reply.json() if reply.text else None

    return call


def test_a_won_deal_reaches_a_subscribed_receiver_signed(local_stack: LocalStack) -> None:
    admin = _caller(local_stack, "admin", "e2e-admin")
    rep = _caller(local_stack, "sales", "e2e-rep")
    with receiver() as hook:
        subscription = admin(
            "POST", "/marketing/webhooks", {"url": hook.url, "eventTypes": ["deal.won"]}, 201
        )
        deal = rep(
            "POST", "/crm/deals", {"name": "E2E webhook deal", "amount": "10.00", "currency": "EUR"}, 201
        )
        rep("PATCH", f"/crm/deals/{deal['dealId']}", {"stageId": "won"}, **{"If-Match": '"1"'})

        deadline = time.monotonic() + 60
        while not hook.received and time.monotonic() < deadline:
            local_stack.wait_idle()
            time.sleep(0.2)

        [(headers, body)] = hook.received
        event = Webhook(subscription["secret"]).verify(body, headers)
        assert (event["type"], event["data"]["dealId"]) == ("deal.won", deal["dealId"])
        path = f"/marketing/webhooks/{subscription['subscriptionId']}/deliveries"
        [delivery] = admin("GET", path)["items"]
        assert (delivery["status"], delivery["responseCode"]) == ("delivered", 204)

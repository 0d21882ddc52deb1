"""The closed loop on the local stack, over HTTP: a visitor browses with UTMs and asks for a demo, is
handed to sales as a marketing-qualified lead, the rep accepts and converts the lead and wins the deal; the
MainChangesFunction, triggered by the main table's stream as in AWS, makes the person a customer with the
deal's revenue, on the person (the marketing 360° view) and on the account (the CRM)."""

from __future__ import annotations

import base64
import http.client
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
import pytest

from crm.leads import handoff_lead_id
from leadstream.profiles import IdentityRef
from leadstream.store.profiles import profile_of
from leadstream_local.auth import issue_token
from leadstream_local.seed import DEMO_REQUEST_FORM
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION

pytestmark = pytest.mark.e2e


def _send(stack: LocalStack, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    raw_body = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        connection.request(
            method, path, body=raw_body or None, headers={"Content-Type": "application/json", **headers}
        )
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw.startswith(b"{") else raw
    finally:
        connection.close()


def _bearer(stack: LocalStack, role: str, user: str) -> dict[str, str]:
    cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
    return {"Authorization": f"Bearer {issue_token(stack.template, cognito, role=role, user=user)}"}


def test_a_tracked_visitor_becomes_a_customer_with_the_revenue_of_the_deal_won(
    local_stack: LocalStack,
) -> None:
    visitor, email = f"visitor-{uuid.uuid4().hex[:8]}", f"kim-{uuid.uuid4().hex[:6]}@northwind.io"
    site = "https://www.example.com"
    start = datetime.now(UTC) - timedelta(minutes=1)
    pages = [
        {
            "type": "page",
            "anonymousId": visitor,
            "name": name,
            "context": {
                "page": {"url": f"{site}{path}"},
                "campaign": {"source": "newsletter", "medium": "email"},
            },
            "timestamp": (start + timedelta(seconds=second)).isoformat(),
        }
        for second, (name, path) in enumerate(
            (("Home", "/?utm_source=newsletter&utm_medium=email"), ("Pricing", "/pricing"))
        )
    ]
    basic = base64.b64encode(f"{local_stack.write_key}:".encode()).decode()
    status, _ = _send(local_stack, "POST", "/v1/batch", {"batch": pages}, {"Authorization": f"Basic {basic}"})
    assert status == 200
    form = {
        "email": email,
        "name": "Kim Park",
        "company": "Northwind",
        "title": "CTO",
        "anonymousId": visitor,
    }
    status, _ = _send(
        local_stack,
        "POST",
        f"/forms/{DEMO_REQUEST_FORM}",
        urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Referer": f"{site}/demo"},
    )
    assert status == 200
    assert local_stack.wait_idle()

    profile = profile_of(IdentityRef(kind="email", value=email))
    assert profile is not None
    assert profile.stage is not None
    assert profile.stage.value == "marketing-qualified"
    lead_id = handoff_lead_id(profile.profile_id, 1)

    # Sales accepts and converts the lead (contact, account, deal), then wins the deal.
    sales = _bearer(local_stack, "sales", "sam")
    status, lead = _send(local_stack, "POST", f"/crm/leads/{lead_id}/accept", {}, sales)
    assert status == 200, lead
    status, converted = _send(
        local_stack,
        "POST",
        f"/crm/leads/{lead_id}/convert",
        {"deal": {"name": "Northwind platform", "amount": "24000.00", "currency": "EUR"}},
        sales,
    )
    assert status == 200, converted
    deal, account = converted["deal"], converted["account"]
    assert converted["contact"]["profileId"] == profile.profile_id
    assert local_stack.wait_idle()
    marketer = _bearer(local_stack, "marketing", "mia")
    status, seen = _send(local_stack, "GET", f"/marketing/profiles/{profile.profile_id}", b"", marketer)
    assert seen["stage"] == "opportunity"

    status, won = _send(
        local_stack,
        "PATCH",
        f"/crm/deals/{deal['dealId']}",
        {"stageId": "won"},
        {**sales, "If-Match": f'"{deal["version"]}"'},
    )
    assert status == 200, won
    assert local_stack.wait_idle()

    status, person = _send(local_stack, "GET", f"/marketing/profiles/{profile.profile_id}", b"", marketer)
    for _ in range(20):  # the stream poller may still be delivering the last batch
        if person.get("revenue"):
            break
        time.sleep(0.25)
        status, person = _send(local_stack, "GET", f"/marketing/profiles/{profile.profile_id}", b"", marketer)
    assert status == 200
    assert person["stage"] == "customer"
    assert person["revenue"] == {"EUR": "24000.00"}
    assert [change["stage"] for change in person["stageHistory"]][-3:] == [
        "sales-qualified",
        "opportunity",
        "customer",
    ]
    assert person["firstTouch"]["source"] == "newsletter"
    status, shown = _send(local_stack, "GET", f"/crm/accounts/{account['accountId']}", b"", sales)
    assert status == 200
    assert shown["revenue"] == {"EUR": "24000.00"}
    assert shown["engagement"]["people"] == 1
    assert shown["engagement"]["top"][0]["profileId"] == profile.profile_id

"""The demo funnel on the local stack, over HTTP: a visitor browses, downloads, asks for a demo; they become
marketing-qualified, the lead appears for sales (GET /crm/leads with a sales token), the owner's email is
in the local outbox and `lead.qualified` went to the bus, once each."""

from __future__ import annotations

import base64
import http.client
import json
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
from leadstream_local.cli import main
from leadstream_local.seed import DEMO_REQUEST_FORM
from leadstream_local.stack import LocalStack
from leadstream_local.template import ACCOUNT_ID, REGION

pytestmark = pytest.mark.e2e


def _send(stack: LocalStack, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw.startswith(b"{") else raw
    finally:
        connection.close()


def _token(stack: LocalStack, role: str, user: str) -> str:
    cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
    return issue_token(stack.template, cognito, role=role, user=user)


def test_a_visitor_who_asks_for_a_demo_reaches_a_sales_rep(local_stack: LocalStack, capsys: Any) -> None:
    visitor, email = f"visitor-{uuid.uuid4().hex[:8]}", f"lin-{uuid.uuid4().hex[:6]}@fabrikam.io"
    site = "https://www.example.com"
    # A minute of browsing, a second apart: the timeline's order is then the visit's, not a tie-break.
    start = datetime.now(UTC) - timedelta(minutes=1)
    pages = [
        {
            "type": "page",
            "anonymousId": visitor,
            "name": name,
            "context": {"page": {"url": f"{site}{path}"}},
            "timestamp": (start + timedelta(seconds=second)).isoformat(),
        }
        for second, (name, path) in enumerate((("Home", "/"), ("Pricing", "/pricing"), ("Docs", "/docs/api")))
    ]
    download = {
        "type": "track",
        "anonymousId": visitor,
        "event": "Content Downloaded",
        "properties": {"asset": "rfp"},
        "timestamp": (start + timedelta(seconds=10)).isoformat(),
    }
    basic = base64.b64encode(f"{local_stack.write_key}:".encode()).decode()
    status, _ = _send(
        local_stack,
        "POST",
        "/v1/batch",
        json.dumps({"batch": [*pages, download]}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Basic {basic}"},
    )
    assert status == 200
    form = {
        "email": email,
        "name": "Lin Chen",
        "company": "Fabrikam",
        "title": "VP Sales",
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

    # Marketing sees a marketing-qualified person with the whole history.
    marketer = {"Authorization": f"Bearer {_token(local_stack, 'marketing', 'mia')}"}
    status, found = _send(local_stack, "GET", f"/marketing/profiles?email={email}", b"", marketer)
    assert status == 200
    [person] = found["items"]
    assert person["stage"] == "marketing-qualified"
    assert set(person["tags"]) == {"interest:pricing", "engaged:content"}
    status, timeline = _send(
        local_stack, "GET", f"/marketing/profiles/{person['profileId']}/events", b"", marketer
    )
    assert [event["type"] for event in timeline["items"]] == ["track", "track", "page", "page", "page"]

    # Sales sees the lead, owned by a rep.
    profile = profile_of(IdentityRef(kind="email", value=email))
    assert profile is not None
    lead_id = handoff_lead_id(profile.profile_id, 1)
    sales = {"Authorization": f"Bearer {_token(local_stack, 'sales', 'sam')}"}
    status, lead = _send(local_stack, "GET", f"/crm/leads/{lead_id}", b"", sales)
    assert status == 200
    assert (lead["email"], lead["company"], lead["status"]) == (email, "Fabrikam", "new")
    assert lead["qualification"]["reason"] == "hand-raiser"
    assert lead["ownerId"]
    status, listed = _send(local_stack, "GET", "/crm/leads?limit=200", b"", sales)
    assert lead_id in [item["leadId"] for item in listed["items"]]

    # The owner got one email, with the person's recent activity; it is in the local outbox.
    [notice] = [sent for sent in local_stack.outbox() if lead_id in sent.body]
    assert "Lin Chen (Fabrikam)" in notice.subject
    assert f"viewed {site}/pricing" in notice.body
    assert main(["outbox", "--aws-url", local_stack.aws_url, "--to", notice.to[0]]) == 0
    assert lead_id in capsys.readouterr().out

    # One lead.qualified event on the bus (its archive, declared in the template, keeps what it received).
    from moto.events.models import events_backends

    archive = local_stack.template.physical["LeadEventArchive"]["Ref"]
    kept = events_backends[ACCOUNT_ID][REGION].archives[archive].events
    assert [event["detail-type"] for event in kept if event["detail"].get("leadId") == lead_id] == [
        "lead.qualified"
    ]

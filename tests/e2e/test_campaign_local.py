"""An A/B campaign on the local stack, end to end: a segment of known people, the campaign created and sent
through the API, the test group's emails in the outbox (sent by the FanoutFunction and the sender from
their queues), a person opens and clicks, the decision timer fires when the local clock passes it, the rest
get the control (too few people for a winner), and the report counts it all once."""

from __future__ import annotations

import http.client
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from stack_client import StackClient, as_if_sent_long_ago, outboxes

from audience.segments import Segment
from audience.store import save_segment
from campaigns import abtest
from leadstream import keys
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_put
from leadstream_local.auth import issue_token
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION

pytestmark = pytest.mark.e2e
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"


def _http(
    stack: LocalStack, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any, bytes]:
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    payload = json.dumps(body).encode() if body is not None else None
    if payload is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _segment(profile_ids: list[str]) -> str:
    """The segment's definition and members, as the segment store lays them out."""
    segment_id = f"seg-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    save_segment(
        Segment.model_validate(
            {
                "segmentId": segment_id,
                "name": "Launch list",
                "condition": {"type": "tag", "op": "has", "tag": "launch"},
                "version": 1,
                "createdAt": now,
                "updatedAt": now,
            }
        )
    )
    members = [
        {**keys.segment_member_key(segment_id, pid), "segmentId": segment_id, "profileId": pid}
        for pid in profile_ids
    ]
    batch_put(get_settings().main_table, members)
    return segment_id


def _templates(stack: LocalStack, auth: dict[str, str], *subjects: str) -> list[str]:
    """One template per subject, each with a tracked link; their ids."""
    ids = []
    for subject in subjects:
        html = f'<p>{subject}</p><a href="https://example.com/launch">Read more</a>'
        body = {"name": subject, "subject": subject, "html": html}
        status, _, raw = _http(stack, "POST", "/marketing/templates", body, **auth)
        assert status == 201, raw
        ids.append(json.loads(raw)["templateId"])
    return ids


def test_an_ab_campaign_from_segment_to_report(local_stack: LocalStack) -> None:
    cognito = boto3.client("cognito-idp", endpoint_url=local_stack.aws_url, region_name=REGION)
    auth = {
        "Authorization": f"Bearer {issue_token(local_stack.template, cognito, role='marketing', user='mia')}"
    }
    run = uuid.uuid4().hex[:6]
    addresses = [f"kim{n}-{run}@example.org" for n in range(6)]
    known = StackClient(local_stack).known_people(*({"email": a, "firstName": "Kim"} for a in addresses))
    people = {address: profile_id for address, (_, profile_id) in zip(addresses, known, strict=True)}
    segment_id = _segment(list(people.values()))
    templates = _templates(local_stack, auth, "Our launch", "You are invited")

    body = {
        "name": f"Launch {run}",
        "segmentId": segment_id,
        "variants": [{"templateId": templates[0]}, {"templateId": templates[1]}],
        "abTest": {"testPercentage": 50, "metric": "click", "decideAfterHours": 2},
    }
    status, _, raw = _http(local_stack, "POST", "/marketing/campaigns", body, **auth)
    assert status == 201, raw
    campaign_id = json.loads(raw)["campaignId"]
    status, _, raw = _http(local_stack, "POST", f"/marketing/campaigns/{campaign_id}/send", {}, **auth)
    assert status == 202, raw
    assert local_stack.wait_idle()

    in_test = {a for a, pid in people.items() if abtest.bucket(campaign_id, pid) < 50}
    sent = outboxes(local_stack, people)
    assert {a for a, emails in sent.items() if emails} == in_test
    assert all(len(sent[a]) == 1 for a in in_test)
    assert {email.subject for a in in_test for email in sent[a]} <= {"Our launch", "You are invited"}

    if in_test:  # one person of the test group opens and clicks (after the scanner window)
        reader = sorted(in_test)[0]
        (email,) = sent[reader]
        from mail.sends import message_id_for

        as_if_sent_long_ago(message_id_for("campaign", campaign_id, people[reader]))
        opened = email.html.split(f"{local_stack.url}/email/open/", 1)[1].split('"', 1)[0]
        clicked = email.html.split(f"{local_stack.url}/email/click/", 1)[1].split('"', 1)[0]
        for _ in range(2):  # twice: counted once
            assert _http(local_stack, "GET", f"/email/open/{opened}", **{"User-Agent": BROWSER})[0] == 200
            assert _http(local_stack, "GET", f"/email/click/{clicked}", **{"User-Agent": BROWSER})[0] == 302
        assert local_stack.wait_idle()

    local_stack.advance_clock(timedelta(hours=3))  # past the decision
    assert local_stack.wait_idle()

    received = outboxes(local_stack, people)
    assert all(len(received[address]) == 1 for address in people)  # the rest got theirs; nobody got two
    rest_subjects = {received[a][0].subject for a in people if a not in in_test}
    assert rest_subjects <= {"Our launch"}  # the control: too few people for a winner

    status, _, raw = _http(local_stack, "GET", f"/marketing/campaigns/{campaign_id}/report", **auth)
    assert status == 200, raw
    report = json.loads(raw)
    assert report["status"] == "sent"
    assert report["total"]["sent"] == len(people)
    assert report["total"]["delivered"] == len(people)
    assert report["total"]["opened"] == report["total"]["clicked"] == (1 if in_test else 0)
    decision = report["abTest"]
    assert (decision["status"], decision["winner"], decision["sentToRest"]) == ("decided", None, "A")
    assert "too few" in decision["reason"]

    _an_idempotent_crm_create_still_works(local_stack, run)


def _an_idempotent_crm_create_still_works(stack: LocalStack, run: str) -> None:
    """The campaign's fan-out used Powertools idempotency in this process; an idempotent CRM create must
    still work, twice, as one record (a shared persistence layer once made every such create a 500)."""
    cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
    sales = {
        "Authorization": f"Bearer {issue_token(stack.template, cognito, role='sales', user='sam')}",
        "Idempotency-Key": f"after-campaign-{run}",
    }
    first = _http(stack, "POST", "/crm/accounts", {"name": f"Acme {run}"}, **sales)
    again = _http(stack, "POST", "/crm/accounts", {"name": f"Acme {run}"}, **sales)
    assert (first[0], again[0]) == (201, 201), (first[2], again[2])
    assert json.loads(first[2])["accountId"] == json.loads(again[2])["accountId"]

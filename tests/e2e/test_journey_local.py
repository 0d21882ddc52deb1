"""A nurture journey end to end on the local stack, with its simulated clock: a journey published over the
API (trigger -> send -> wait 2 days -> branch on opened -> send A or B -> exit); two people come in
through the tracking API; email 1 reaches both; one opens it (the pixel, after the scanner window); two
days later the opener gets A and the other B, the runs have exited, and a redelivered timer sends
nothing more."""

from __future__ import annotations

import base64
import http.client
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from leadstream.profiles import IdentityRef
from leadstream.store.profiles import profile_of
from leadstream.store.sends import get_send
from leadstream.timers import Timer
from leadstream_local.auth import issue_token
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION

pytestmark = pytest.mark.e2e
SCANNER_WINDOW = 10.0  # EMAIL_SCANNER_WINDOW_SECONDS: real seconds after sending


def _http(stack: LocalStack, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    raw = json.dumps(body).encode() if body is not None else None
    if raw is not None:
        headers.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=raw, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload.startswith(b"{") else payload
    finally:
        connection.close()


def _marketing(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
    token = issue_token(stack.template, cognito, role="marketing", user="mia")
    status, reply = _http(stack, method, path, body, Authorization=f"Bearer {token}")
    assert status in (200, 201), reply
    return reply


def _template(stack: LocalStack, subject: str) -> str:
    body = {"name": subject, "subject": subject, "html": "<p>Hello {{ first_name }}</p>"}
    return str(_marketing(stack, "POST", "/marketing/templates", body)["templateId"])


def _signs_up(stack: LocalStack, email: str, event: str) -> str:
    """A visitor tells us who they are and does `event`, through the tracking API; their profile id."""
    basic = base64.b64encode(f"{stack.write_key}:".encode()).decode()
    user = f"u-{uuid.uuid4().hex[:8]}"
    for path, message in (
        ("/v1/identify", {"userId": user, "traits": {"email": email, "firstName": "Noor"}}),
        ("/v1/track", {"userId": user, "event": event}),
    ):
        status, _ = _http(stack, "POST", path, message, Authorization=f"Basic {basic}")
        assert status == 200
        assert stack.wait_idle(timeout=30)
    profile = profile_of(IdentityRef(kind="email", value=email))
    assert profile is not None
    return profile.profile_id


def _runs(stack: LocalStack, journey_id: str, profile_id: str) -> list[dict[str, Any]]:
    return list(
        _marketing(stack, "GET", f"/marketing/journeys/{journey_id}/runs?profileId={profile_id}")["runs"]
    )


def test_a_nurture_journey_on_the_local_clock(local_stack: LocalStack) -> None:
    stack = local_stack
    event = f"Trial Started {uuid.uuid4().hex[:6]}"
    hello, a, b = (
        _template(stack, subject) for subject in ("Welcome", "Glad you read it", "In case you missed it")
    )
    journey = _marketing(
        stack,
        "POST",
        "/marketing/journeys",
        {
            "name": "Trial nurture",
            "trigger": {"type": "event", "event": event},
            "start": "hello",
            "steps": {
                "hello": {"type": "send_email", "templateId": hello, "next": "pause"},
                "pause": {"type": "wait", "duration": {"days": 2}, "next": "opened"},
                "opened": {"type": "branch", "email": "opened", "yes": "a", "no": "b"},
                "a": {"type": "send_email", "templateId": a, "next": "done"},
                "b": {"type": "send_email", "templateId": b, "next": "done"},
                "done": {"type": "exit"},
            },
        },
    )
    journey_id = journey["journeyId"]
    _marketing(stack, "POST", f"/marketing/journeys/{journey_id}/publish", {"version": 1})

    reader_email = f"reader-{uuid.uuid4().hex[:6]}@example.org"
    skimmer_email = f"skimmer-{uuid.uuid4().hex[:6]}@example.org"
    reader = _signs_up(stack, reader_email, event)
    skimmer = _signs_up(stack, skimmer_email, event)
    (welcome,) = stack.outbox(to=reader_email)
    assert welcome.subject == "Welcome"
    assert [email.subject for email in stack.outbox(to=skimmer_email)] == ["Welcome"]

    # The reader opens it, like a person: after the scanner window (real time since sending).
    sent = get_send(_runs(stack, journey_id, reader)[0]["lastMessageId"])
    assert sent is not None
    assert sent.sent_at is not None
    time.sleep(max(0.0, SCANNER_WINDOW + 0.5 - (datetime.now(UTC) - sent.sent_at).total_seconds()))
    pixel = welcome.html.split(f"{stack.url}/email/open/", 1)[1].split('"', 1)[0]
    status, _ = _http(stack, "GET", f"/email/open/{pixel}", **{"User-Agent": "Mozilla/5.0 (Macintosh)"})
    assert status == 200
    assert stack.wait_idle(timeout=30)
    opened = get_send(sent.message_id)
    assert opened is not None
    assert opened.opened_at is not None

    waiting = _runs(stack, journey_id, reader)[0]
    assert (waiting["status"], waiting["stepId"]) == ("waiting", "pause")
    stack.advance_clock(timedelta(days=2, minutes=1))
    assert stack.wait_idle(timeout=30)

    assert [email.subject for email in stack.outbox(to=reader_email)] == ["Welcome", "Glad you read it"]
    assert [email.subject for email in stack.outbox(to=skimmer_email)] == ["Welcome", "In case you missed it"]
    for profile_id in (reader, skimmer):
        (run,) = _runs(stack, journey_id, profile_id)
        assert run["status"] == "exited"

    # The scheduler delivers the wait's timer again: nothing more is sent.
    timer = Timer(
        kind="journey",
        key=f"{waiting['runId']}:{waiting['seq']}",
        at=stack.now(),
        payload={"journeyId": journey_id, "runId": waiting["runId"], "seq": waiting["seq"]},
    )
    boto3.client("sqs").send_message(
        QueueUrl=stack.template.physical["TimerQueue"]["Ref"], MessageBody=timer.model_dump_json()
    )
    assert stack.wait_idle(timeout=30)
    assert len(stack.outbox(to=reader_email)) == 2

    report = _marketing(stack, "GET", f"/marketing/journeys/{journey_id}/report")
    steps = {row["stepId"]: row for row in report["steps"]}
    assert (steps["hello"]["reached"], steps["a"]["reached"], steps["b"]["reached"]) == (2, 1, 1)
    assert steps["done"]["exited"] == 2
    assert steps["hello"]["email"]["opened"] == 1

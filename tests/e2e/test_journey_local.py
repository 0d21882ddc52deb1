"""A nurture journey end to end on the local stack, with its simulated clock: a journey published over the
API (trigger -> send -> wait 2 days -> branch on opened -> send A or B -> exit); two people come in
through the tracking API; email 1 reaches both; one opens it (the pixel, once the local clock has moved
past the scanner window); two days later the opener gets A and the other B, the runs have exited, and a
redelivered timer sends nothing more."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import boto3
import pytest
from stack_client import StackClient, outboxes

from leadstream.timers import Timer
from leadstream_local.stack import LocalStack
from mail.store.sends import get_send

pytestmark = pytest.mark.e2e
SCANNER_WINDOW = timedelta(seconds=10)  # EMAIL_SCANNER_WINDOW_SECONDS, on the business clock


def _template(marketing: StackClient, subject: str) -> str:
    body = {"name": subject, "subject": subject, "html": "<p>Hello {{ first_name }}</p>"}
    return str(marketing.ok("POST", "/marketing/templates", body)["templateId"])


def _sign_up(website: StackClient, event: str, *emails: str) -> list[str]:
    """Visitors tell us who they are, then do `event`, through the tracking API; their profile ids."""
    people = website.known_people(*({"email": email, "firstName": "Noor"} for email in emails))
    for user, _ in people:
        website.send("track", {"userId": user, "event": event})
    assert website.stack.wait_idle()
    return [profile_id for _, profile_id in people]


def _runs(marketing: StackClient, journey_id: str, profile_id: str) -> list[dict[str, Any]]:
    return list(marketing.ok("GET", f"/marketing/journeys/{journey_id}/runs?profileId={profile_id}")["items"])


def test_a_nurture_journey_on_the_local_clock(local_stack: LocalStack) -> None:
    stack = local_stack
    marketing, website = StackClient(stack, role="marketing"), StackClient(stack)
    event = f"Trial Started {uuid.uuid4().hex[:6]}"
    hello, a, b = (
        _template(marketing, subject) for subject in ("Welcome", "Glad you read it", "In case you missed it")
    )
    journey = marketing.ok(
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
    # If-Match on an action is optional; sent, it must name the latest version (the create's ETag).
    marketing.ok("POST", f"/marketing/journeys/{journey_id}/publish", {"version": 1}, **{"If-Match": '"1"'})

    reader_email = f"reader-{uuid.uuid4().hex[:6]}@example.org"
    skimmer_email = f"skimmer-{uuid.uuid4().hex[:6]}@example.org"
    reader, skimmer = _sign_up(website, event, reader_email, skimmer_email)
    sent = outboxes(stack, [reader_email, skimmer_email])
    (welcome,) = sent[reader_email]
    assert welcome.subject == "Welcome"
    assert [email.subject for email in sent[skimmer_email]] == ["Welcome"]

    # The reader opens it, like a person: after the scanner window, which moves with the local clock
    # (sending and delivery were stamped by it, and so is the open).
    send = get_send(_runs(marketing, journey_id, reader)[0]["lastMessageId"])
    assert send is not None
    assert send.sent_at is not None
    assert send.delivered_at is not None
    moved_to = stack.advance_clock(SCANNER_WINDOW + timedelta(seconds=1))
    assert moved_to - max(send.sent_at, send.delivered_at) > SCANNER_WINDOW
    pixel = welcome.html.split(f"{stack.url}/email/open/", 1)[1].split('"', 1)[0]
    opening = website.request("GET", f"/email/open/{pixel}", **{"User-Agent": "Mozilla/5.0 (Macintosh)"})
    assert opening.status == 200
    assert stack.wait_idle()
    opened = get_send(send.message_id)
    assert opened is not None
    assert opened.opened_at is not None
    assert opened.opened_at >= moved_to  # the open was stamped by the local clock, as the window reads it

    waiting = _runs(marketing, journey_id, reader)[0]
    assert (waiting["status"], waiting["stepId"]) == ("waiting", "pause")
    stack.advance_clock(timedelta(days=2, minutes=1))
    assert stack.wait_idle()

    sent = outboxes(stack, [reader_email, skimmer_email])
    assert [email.subject for email in sent[reader_email]] == ["Welcome", "Glad you read it"]
    assert [email.subject for email in sent[skimmer_email]] == ["Welcome", "In case you missed it"]
    for profile_id in (reader, skimmer):
        (run,) = _runs(marketing, journey_id, profile_id)
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
    assert stack.wait_idle()
    assert len(stack.outbox(to=reader_email)) == 2

    report = marketing.ok("GET", f"/marketing/journeys/{journey_id}/report")
    steps = {row["stepId"]: row for row in report["steps"]}
    assert (steps["hello"]["reached"], steps["a"]["reached"], steps["b"]["reached"]) == (2, 1, 1)
    assert steps["done"]["exited"] == 2
    assert steps["hello"]["email"]["opened"] == 1

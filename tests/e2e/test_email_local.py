"""Marketing email on the local stack, end to end over HTTP and the template's own queue and topic: a known
person is sent a template through the send queue; the sender runs from its SQS trigger, the embedded SES
"delivers", the stack publishes SES's events to the configuration set's topic and the SES events function
records them; a click redirects, one-click unsubscribe suppresses, a redelivered message sends nothing,
and a hard bounce (SES's mailbox simulator) suppresses the address."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from leadstream.profiles import IdentityRef
from leadstream.store.profiles import profile_of
from leadstream_local.auth import issue_token
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION
from mail.sends import SendStatus
from mail.store.sends import get_send
from mail.store.suppression import get_suppression
from mail.suppression import SuppressionReason

pytestmark = pytest.mark.e2e


def _http(
    stack: LocalStack, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, Any, bytes]:
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _identify(stack: LocalStack, email: str) -> str:
    """A visitor tells us who they are; scoring makes a profile. Returns its id."""
    basic = base64.b64encode(f"{stack.write_key}:".encode()).decode()
    event = {"userId": f"u-{uuid.uuid4().hex[:8]}", "traits": {"email": email, "firstName": "Noor"}}
    status, _, _ = _http(
        stack,
        "POST",
        "/v1/identify",
        json.dumps(event).encode(),
        **{"Content-Type": "application/json", "Authorization": f"Basic {basic}"},
    )
    assert status == 200
    assert stack.wait_idle()
    profile = profile_of(IdentityRef(kind="email", value=email))
    assert profile is not None
    return profile.profile_id


def _template(stack: LocalStack) -> dict[str, Any]:
    cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
    token = issue_token(stack.template, cognito, role="marketing", user="mia")
    body = {
        "name": "Launch",
        "subject": "News for you, {{ first_name | default('there') }}",
        "html": '<p>Hello {{ first_name }}</p><a href="https://example.com/launch">Read more</a>',
    }
    status, _, raw = _http(
        stack,
        "POST",
        "/marketing/templates",
        json.dumps(body).encode(),
        **{"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert status == 201, raw
    return json.loads(raw)  # type: ignore[no-any-return]


def _enqueue(stack: LocalStack, *messages: dict[str, Any]) -> None:
    url = stack.template.physical["EmailSendQueue"]["Ref"]
    for message in messages:
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(message))
    assert stack.wait_idle()


def test_an_email_goes_out_once_and_its_links_work(local_stack: LocalStack) -> None:
    email = f"noor-{uuid.uuid4().hex[:6]}@example.org"
    profile_id = _identify(local_stack, email)
    template = _template(local_stack)
    send = {
        "messageId": f"launch-{uuid.uuid4().hex[:8]}",
        "templateId": template["templateId"],
        "templateVersion": template["version"],
        "profileId": profile_id,
        "campaignId": "launch",
    }
    _enqueue(local_stack, send)

    (sent,) = local_stack.outbox(to=email)
    assert sent.subject == "News for you, Noor"
    assert sent.unsubscribe.startswith(f"<{local_stack.url}/email/unsubscribe/")
    record = get_send(send["messageId"])
    assert record is not None
    assert record.status is SendStatus.SENT
    assert record.delivered_at is not None  # the Delivery event came back through SNS

    _enqueue(local_stack, send)  # the queue delivers it again
    assert len(local_stack.outbox(to=email)) == 1

    click = sent.html.split(f"{local_stack.url}/email/click/", 1)[1].split('"', 1)[0]
    status, headers, _ = _http(local_stack, "GET", f"/email/click/{click}", **{"User-Agent": "Mozilla/5.0"})
    assert status == 302
    assert headers["Location"] == "https://example.com/launch"

    unsubscribe = urlsplit(sent.unsubscribe.strip("<>")).path
    status, _, _ = _http(
        local_stack,
        "POST",
        unsubscribe,
        b"List-Unsubscribe=One-Click",
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    entry = get_suppression(email)
    assert entry is not None
    assert SuppressionReason.UNSUBSCRIBED in entry.reasons


def test_a_hard_bounce_suppresses_the_address(local_stack: LocalStack) -> None:
    address = "bounce@simulator.amazonses.com"
    profile_id = _identify(local_stack, address)
    template = _template(local_stack)
    message_id = f"bounce-{uuid.uuid4().hex[:8]}"
    _enqueue(
        local_stack,
        {
            "messageId": message_id,
            "templateId": template["templateId"],
            "templateVersion": 1,
            "profileId": profile_id,
        },
    )
    entry = get_suppression(address)
    assert entry is not None
    assert SuppressionReason.BOUNCED in entry.reasons
    record = get_send(message_id)
    assert record is not None
    assert record.bounced_at is not None

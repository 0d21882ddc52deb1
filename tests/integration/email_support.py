"""Helpers for email tests on moto: people, templates, send requests through the template's real send
queue, SQS and SNS events as Lambda delivers them, and what moto's SES was asked to send."""

from __future__ import annotations

import email
import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import boto3
import pytest

from leadstream import keys
from leadstream.profiles import IdentityRef, Profile
from leadstream_local.lambda_events import sqs_record
from leadstream_local.template import ACCOUNT_ID, REGION, StackTemplate
from mail.sends import SendRequest
from mail.template_models import EmailTemplate, TemplateContent

_ids = itertools.count(1)

WELCOME = TemplateContent(
    name="Welcome",
    subject="Welcome, {{ first_name | default('there') }}",
    html='<html><body><p>Hi {{ first_name | default("there") }}!</p>'
    '<a href="https://example.com/pricing">See pricing</a></body></html>',
)


@dataclass
class LambdaContext:
    function_name: str = "EmailFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:EmailFunction"
    aws_request_id: str = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """No send pacing (the template's rate would make a batch take seconds): the sender's pacer follows
    the configured rate by itself."""
    monkeypatch.setenv("EMAIL_SEND_RATE", "0")


def person(email_address: str | None = "ada@example.com", *, traits: dict[str, Any] | None = None) -> Profile:
    """A stored profile known by its email address (identity item included), as scoring would leave it."""
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import serialize
    from leadstream.store.profiles import profile_item

    profile = Profile(
        profile_id=f"p-{next(_ids)}",
        version=1,
        traits=dict({"firstName": "Ada"} if traits is None else traits),
    )
    client = boto3.client("dynamodb")
    table = get_settings().main_table
    if email_address:
        profile.email = email_address
        profile.add_identity(IdentityRef(kind="email", value=email_address))
        identity = {
            **keys.identity_key("email", email_address),
            "profileId": profile.profile_id,
            "kind": "email",
            "value": email_address,
        }
        client.put_item(TableName=table, Item=serialize(identity))
    client.put_item(TableName=table, Item=serialize(profile_item(profile)))
    return profile


def template(content: TemplateContent = WELCOME) -> EmailTemplate:
    from mail.templates import Templates, dynamo_store

    return Templates(store=dynamo_store()).create(content, user="tester")


def request(profile: Profile, tpl: EmailTemplate, **fields: Any) -> SendRequest:
    values: dict[str, Any] = {
        "messageId": f"msg-{next(_ids)}",
        "templateId": tpl.template_id,
        "templateVersion": tpl.version,
        "profileId": profile.profile_id,
        "campaignId": "cmp-1",
        "stepId": "step-1",
        **fields,
    }
    return SendRequest.model_validate(values)


def queue(stack: StackTemplate, logical: str = "EmailSendQueue") -> tuple[str, str]:
    return stack.physical[logical]["Ref"], stack.physical[logical]["Arn"]


def enqueue(stack: StackTemplate, requests: Sequence[SendRequest]) -> None:
    url, _ = queue(stack)
    for item in requests:
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=item.model_dump_json(by_alias=True))


def receive(stack: StackTemplate, *, max_messages: int = 10) -> dict[str, Any]:
    """The Lambda SQS event for what the queue hands out now (those messages then become invisible)."""
    url, arn = queue(stack)
    response = boto3.client("sqs").receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max_messages,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        VisibilityTimeout=0,
    )
    return {"Records": [sqs_record(message, queue_arn=arn) for message in response.get("Messages", [])]}


def raw_event(requests: Sequence[SendRequest | str]) -> dict[str, Any]:
    """An SQS event with these bodies, without a queue (for redelivering the very same records)."""
    records = []
    for index, item in enumerate(requests):
        body = item if isinstance(item, str) else item.model_dump_json(by_alias=True)
        now = str(int(datetime.now(UTC).timestamp() * 1000))
        message = {
            "MessageId": f"sqs-{index}",
            "ReceiptHandle": f"rh-{index}",
            "Body": body,
            "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "Attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": now,
                "SenderId": "AIDAEXAMPLE",
                "ApproximateFirstReceiveTimestamp": now,
            },
        }
        records.append(sqs_record(message, queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:send"))
    return {"Records": records}


def run_sender(event: dict[str, Any]) -> dict[str, Any]:
    from handlers.email_sender import lambda_handler

    return lambda_handler(event, LambdaContext(function_name="EmailSenderFunction"))  # type: ignore[arg-type]


def ses_messages() -> list[EmailMessage]:
    """Every message moto's SES accepted, parsed."""
    from moto.ses.models import ses_backends

    sent = ses_backends[ACCOUNT_ID][REGION].sent_messages
    return [email.message_from_string(message.raw_data, policy=policy.default) for message in sent]  # type: ignore[misc]


def ses_send_count() -> int:
    from moto.ses.models import ses_backends

    return len(ses_backends[ACCOUNT_ID][REGION].sent_messages)


def send_record(message_id: str) -> Any:
    from mail.store.sends import get_send

    return get_send(message_id)


def events_named(stored: Sequence[Any], name: str) -> list[Any]:
    return [event for event in stored if event.event == name]


def ses_notification(kind: str, *, message_id: str | None, to: str, at: datetime, **body: Any) -> str:
    """An SES event-publishing notification for one of our messages, as SES puts it on the topic."""
    headers = [{"name": "From", "value": "news@example.com"}, {"name": "To", "value": to}]
    if message_id:
        headers.append({"name": "X-Leadstream-Message-Id", "value": message_id})
    notification = {
        "eventType": kind,
        "mail": {
            "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "messageId": f"ses-{next(_ids)}",
            "source": "news@example.com",
            "destination": [to],
            "headersTruncated": False,
            "headers": headers,
            "tags": {"ses:configuration-set": ["leadstream-dev-marketing"]},
        },
        **body,
    }
    return json.dumps(notification)

"""Helpers for tests of the scoring handler on moto: stream batches as Lambda delivers them, events as
tracking stores them, sales users in the user pool, and what SES and the bus received."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from leadstream import keys
from leadstream.events import SegmentMessage, TrackedEvent
from leadstream_local.lambda_events import dynamodb_stream_event, insert_record

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
REGION = "us-east-1"
_message_ids = itertools.count()


@dataclass
class LambdaContext:
    function_name: str = "ScoringFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ScoringFunction"
    aws_request_id: str = "test-request"


def tracked(kind: str, *, at: datetime = T0, message_id: str | None = None, **fields: Any) -> TrackedEvent:
    raw = {
        "type": kind,
        "messageId": message_id or f"m{next(_message_ids)}",
        "timestamp": at.isoformat(),
        **fields,
    }
    return SegmentMessage.model_validate(raw).to_tracked("src-test", at)


class Stream:
    """The events table's stream as Lambda delivers it; a redelivered record keeps its sequence number.

    With `store_events`, each delivered event is first put into the events table, as tracking does (the
    handoff email reads a person's recent events from there).
    """

    def __init__(self, template: Any, *, store_events: bool = False) -> None:
        self.arn = template.physical["EventsTable"]["StreamArn"]
        self._sequence: dict[str, int] = {}
        self._store_events = store_events

    def record(self, event: TrackedEvent) -> dict[str, Any]:
        number = self._sequence.setdefault(event.message_id, len(self._sequence) + 1)
        item = event.to_item(keys.event_key(event.source_id, event.message_id), ttl_epoch=2_000_000_000)
        return insert_record(item, sequence_number=number)

    def deliver(self, events: Sequence[TrackedEvent]) -> dict[str, Any]:
        if self._store_events:
            from tracking.store.events import store_events

            store_events(events)
        return self.send([self.record(event) for event in events])

    def send(self, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
        from handlers.scoring_stream import lambda_handler

        result: dict[str, Any] = lambda_handler(
            dynamodb_stream_event(records, stream_arn=self.arn), LambdaContext()
        )
        return result


def add_sales_user(template: Any, email: str, *, group: str = "sales") -> str:
    """A user of the template's pool in `group`; returns their `sub` (what leads store as owner)."""
    client = boto3.client("cognito-idp")
    pool = template.physical["UserPool"]["Ref"]
    attributes = [
        {"Name": "email", "Value": email},
        {"Name": "name", "Value": email.split("@", maxsplit=1)[0].title()},
    ]
    created = client.admin_create_user(
        UserPoolId=pool, Username=email, UserAttributes=attributes, MessageAction="SUPPRESS"
    )["User"]
    client.admin_add_user_to_group(UserPoolId=pool, Username=created["Username"], GroupName=group)
    return next(item["Value"] for item in created["Attributes"] if item["Name"] == "sub")


def sent_emails() -> list[Any]:
    """What moto's SES accepted (its backend keeps every sent message)."""
    from moto.ses.models import ses_backends

    return list(ses_backends[ACCOUNT][REGION].sent_messages)


def bus_events(template: Any) -> list[dict[str, Any]]:
    """Events scoring put on the lead bus, as its archive (declared in the template) kept them (the archive
    also keeps the event catalog's, source leadstream.catalog: docs/events.md)."""
    from moto.events.models import events_backends

    archive = template.physical["LeadEventArchive"]["Ref"]
    kept = events_backends[ACCOUNT][REGION].archives[archive].events
    return [event for event in kept if event.get("source") == "leadstream.scoring"]

"""The lake's one entry from the streams: `deliver(records)` turns a batch of DynamoDB stream records
(EventsTable: new events; MainTable: profile, CRM record and send writes) into lake rows and hands them
to Firehose. Idempotent: a redelivered record gives rows with the same ids, which reports count once.

Returns the stream records to report as failed (their sequence numbers): a record whose image cannot
be read, or whose rows Firehose would not take after retries. The handler reports them as partial batch
failures, so the stream delivers them (and what follows them) again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lake import rows as lake_rows
from lake.settings import FeedSettings
from lake.store import firehose
from leadstream import clock
from leadstream.events import TrackedEvent
from leadstream.settings import load
from leadstream.store.dynamo import deserialize


@dataclass
class Delivery:
    events: int = 0
    changes: int = 0
    failed: list[str] = field(default_factory=list)  # sequence numbers of stream records to retry


def _table_of(record: Mapping[str, Any]) -> str:
    arn = str(record.get("eventSourceARN", ""))
    return arn.split(":table/", 1)[1].split("/", 1)[0] if ":table/" in arn else ""


def _moment(record: Mapping[str, Any]) -> datetime:
    seconds = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(seconds, (int, float)):
        return datetime.fromtimestamp(float(seconds), tz=UTC)
    return clock.now()


def rows_of(record: Mapping[str, Any], events_table: str) -> tuple[str, list[lake_rows.Row]]:
    """("events" | "changes", rows) of one stream record; raises on a record it cannot read."""
    data = record.get("dynamodb", {})
    new = deserialize(data["NewImage"]) if data.get("NewImage") else None
    old = deserialize(data["OldImage"]) if data.get("OldImage") else None
    if _table_of(record) == events_table:
        if record.get("eventName") != "INSERT" or not new:
            return "events", []  # a resend of a stored event, or its TTL expiry: nothing new
        return "events", [lake_rows.event_row(TrackedEvent.from_item(new))]
    keys = deserialize(data.get("Keys", {}))
    return "changes", lake_rows.change_rows(keys, old, new, _moment(record))


def deliver(records: Sequence[Mapping[str, Any]]) -> Delivery:
    settings = load(FeedSettings)
    result = Delivery()
    batches: dict[str, list[tuple[str, lake_rows.Row]]] = {"events": [], "changes": []}
    for record in records:
        sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
        try:
            table, found = rows_of(record, settings.events_table)
        except (KeyError, ValueError, TypeError):
            result.failed.append(sequence)
            continue
        batches[table].extend((sequence, row) for row in found)
    for table, stream in (("events", settings.events_stream), ("changes", settings.changes_stream)):
        pending = batches[table]
        if not pending:
            continue
        refused = firehose.put_rows(stream, [row for _, row in pending])
        result.failed.extend(sorted({pending[index][0] for index in refused}))
        delivered = len(pending) - len(refused)
        if table == "events":
            result.events += delivered
        else:
            result.changes += delivered
    return result

"""Main-table changes into catalog events on the bus: the one public function the stream consumer calls.

`publish_changes(records)` takes a batch of the main table's stream records (as Lambda hands them over),
derives the catalog events (integrations.catalog), leaves out those whose id was published before, puts
the rest on the bus and marks their ids as published. A redelivered record derives the same ids, finds
them marked, and publishes nothing twice. The only window: the invocation dies after PutEvents and
before the mark; then the redelivery puts the same event (same id) again, and receivers de-duplicate by
id (webhook deliveries do: one per subscription and event id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations import catalog
from integrations.catalog import CatalogEvent
from integrations.store import bus
from leadstream.store.dynamo import deserialize


@dataclass
class Published:
    published: list[CatalogEvent] = field(default_factory=list)
    skipped: int = 0  # already published (a redelivery)
    failed_records: list[str] = field(default_factory=list)  # sequence numbers to report as failures


def events_of_record(record: Mapping[str, Any]) -> list[CatalogEvent]:
    """The catalog events of one stream record (Lambda's DynamoDB stream record shape)."""
    data = record.get("dynamodb") or {}
    old = deserialize(data["OldImage"]) if data.get("OldImage") else None
    new = deserialize(data["NewImage"]) if data.get("NewImage") else None
    keys = deserialize(data.get("Keys") or {})
    created = datetime.fromtimestamp(float(data.get("ApproximateCreationDateTime") or 0), UTC)
    return catalog.derive(str(record.get("eventName", "")), keys, old, new, created)


def publish_changes(records: Sequence[Mapping[str, Any]]) -> Published:
    """Publish the catalog events of a batch of main-table stream records, each id once."""
    by_record: list[tuple[str, list[CatalogEvent]]] = []
    for record in records:
        sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
        by_record.append((sequence, events_of_record(record)))
    return publish(by_record)


def publish(by_record: Sequence[tuple[str, list[CatalogEvent]]]) -> Published:
    """Publish events grouped by the record (sequence number) they came from; a record whose events were
    refused is reported, so the stream retries it (its events that went out are skipped then)."""
    outcome = Published()
    unique: dict[str, CatalogEvent] = {}
    for _, events in by_record:
        for event in events:
            unique.setdefault(event.id, event)
    done = bus.already_published(list(unique))
    outcome.skipped = len(done)
    fresh = [event for event_id, event in unique.items() if event_id not in done]
    refused = bus.put_events(fresh) if fresh else set()
    went_out = [event for event in fresh if event.id not in refused]
    if went_out:
        bus.mark_published([event.id for event in went_out])
    outcome.published = went_out
    outcome.failed_records = [
        sequence for sequence, events in by_record if any(event.id in refused for event in events)
    ]
    return outcome


def publish_form_submissions(events: Sequence[Mapping[str, Any]]) -> Published:
    """`form.submitted` for the form submissions among stored tracking events (the events stream's
    consumer calls this after scoring them); ids derive from (source, messageId)."""
    by_record: list[tuple[str, list[CatalogEvent]]] = []
    for event in events:
        submitted = catalog.form_submitted(event)
        if submitted is not None:
            by_record.append((str(event.get("messageId")), [submitted]))
    return publish(by_record) if by_record else Published()

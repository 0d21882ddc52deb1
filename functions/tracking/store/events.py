"""The events table: accepted tracking events, written in batches with a TTL."""

from __future__ import annotations

from collections.abc import Sequence

from leadstream import keys
from leadstream.events import TrackedEvent
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_put

SECONDS_PER_DAY = 86_400


def store_events(events: Sequence[TrackedEvent]) -> None:
    """Store events idempotently: a message resent with the same messageId overwrites its own item."""
    settings = get_settings()
    items = [
        event.to_item(
            keys.event_key(event.source_id, event.message_id),
            ttl_epoch=int(event.received_at.timestamp()) + settings.retention_days * SECONDS_PER_DAY,
        )
        for event in events
    ]
    # Two copies of one messageId in the same BatchWriteItem call are an error; keep the last.
    unique = list({(item["pk"], item["sk"]): item for item in items}.values())
    batch_put(settings.events_table, unique)

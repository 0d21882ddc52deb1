"""Catalog events onto the stack's EventBridge bus, and the marks that say an event id went out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from integrations.catalog import CatalogEvent, source_of
from integrations.settings import integration_settings
from leadstream import clock
from leadstream.aws import eventbridge
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, batch_put

PUT_EVENTS_LIMIT = 10  # entries per PutEvents call
MARK_DAYS = 7  # a stream record is retried for at most a day; a week covers any redelivery


def published_mark_key(event_id: str) -> dict[str, str]:
    return {"pk": f"CATALOG#{event_id}", "sk": "PUBLISHED"}


def already_published(event_ids: Sequence[str]) -> set[str]:
    """Which of these ids were put on the bus before (one BatchGetItem per 100)."""
    if not event_ids:
        return set()
    items = batch_get(get_settings().main_table, [published_mark_key(event_id) for event_id in event_ids])
    return {str(item["pk"]).removeprefix("CATALOG#") for item in items}


def mark_published(event_ids: Sequence[str]) -> None:
    """Remember that these ids went out (BatchWriteItem, 25 per call), for a week (TTL)."""
    expires = int((clock.now() + timedelta(days=MARK_DAYS)).timestamp())
    batch_put(
        get_settings().main_table,
        [{**published_mark_key(event_id), "ttl": expires} for event_id in event_ids],
    )


def put_events(events: Sequence[CatalogEvent]) -> set[str]:
    """Put events on the bus, 10 per call; returns the ids EventBridge refused (to be retried)."""
    bus = integration_settings().event_bus
    refused: set[str] = set()
    for start in range(0, len(events), PUT_EVENTS_LIMIT):
        chunk = events[start : start + PUT_EVENTS_LIMIT]
        entries: list[dict[str, Any]] = [
            {
                "EventBusName": bus,
                "Source": source_of(event.type),
                "DetailType": event.type,
                "Detail": json.dumps(event.detail(), separators=(",", ":")),
            }
            for event in chunk
        ]
        response = eventbridge().put_events(Entries=entries)
        for event, result in zip(chunk, response.get("Entries", []), strict=False):
            if "EventId" not in result:
                refused.add(event.id)
        if len(response.get("Entries", [])) < len(chunk):
            refused.update(event.id for event in chunk[len(response.get("Entries", [])) :])
    return refused

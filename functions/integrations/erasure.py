"""Erasure in webhook deliveries (docs/customer-data.md, Erasure).

Catalog events carry ids only (integrations.catalog), except `lead.qualified`, which carries the lead's
address and name because the sales systems that follow it exist to call the person. Its deliveries keep
their payload (the body each attempt sends) for 30 days: an erasure replaces, in every delivery of every
subscription, each payload value that mentions the person with null. What a receiver got before is
theirs to erase (the erasure's receipt says how many deliveries had carried the person's data).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from integrations.store import webhooks as store
from leadstream.aws import dynamodb
from leadstream.settings import get_settings
from leadstream.store.dynamo import serialize

PAGE_LIMIT = 1000


def deliveries_mentioning(needles: Sequence[str], limit: int) -> list[str]:
    """`<subscriptionId> <eventId>` of up to `limit` deliveries whose payload mentions the person."""
    lowered = [needle.lower() for needle in needles if needle]
    found: list[str] = []
    if not lowered:
        return found
    for subscription in store.all_subscriptions():
        subscription_id = str(subscription["subscriptionId"])
        cursor: str | None = None
        while True:
            page, cursor = store.list_deliveries(
                subscription_id, status=None, limit=PAGE_LIMIT, cursor=cursor
            )
            for delivery in page:
                payload = str(delivery.get("payload", "")).lower()
                if any(needle in payload for needle in lowered):
                    found.append(f"{subscription_id} {delivery['eventId']}")
                    if len(found) >= limit:
                        return found
            if cursor is None:
                break
    return found


def forget_deliveries(targets: Sequence[str], needles: Sequence[str]) -> int:
    """Null every payload value of these deliveries that mentions the person (idempotent)."""
    lowered = [needle.lower() for needle in needles if needle]
    client = dynamodb()
    for target in targets:
        subscription_id, _, event_id = target.partition(" ")
        delivery = store.get_delivery(subscription_id, event_id)
        if delivery is None:
            continue
        payload = json.loads(str(delivery.get("payload", "{}")))
        cleaned = json.dumps(_scrub(payload, lowered), separators=(",", ":"))
        client.update_item(
            TableName=get_settings().main_table,
            Key=serialize(store.delivery_key(subscription_id, event_id)),
            UpdateExpression="SET payload = :payload",
            ExpressionAttributeValues=serialize({":payload": cleaned}),
        )
    return len(targets)


def _scrub(value: Any, needles: list[str]) -> Any:
    if isinstance(value, dict):
        return {key: _scrub(inner, needles) for key, inner in value.items()}
    if isinstance(value, list):
        return [_scrub(inner, needles) for inner in value]
    if isinstance(value, str) and any(needle in value.lower() for needle in needles):
        return None
    return value

"""Erasure of a person's events (docs/customer-data.md, Erasure): every event stays, anonymous.

An erased event keeps what reports and scores count: its type, name, time, source, message id, the
campaign it came from (`context.campaign`, the UTM fields), its group (an account) and the properties
that are numbers, flags or ids (revenue, quantity, orderId, campaignId...). It loses its user id and
anonymous id (both become the erasure's pseudonym, `erased-<erasureId>`, so the person's events still
count as one person's and no longer lead to anyone), its traits, its context (IP address, user agent,
page, locale, device), its integrations, and every property that is free text. Any kept value that
contains one of the person's identifiers (an address inside an id) goes too.

Rewriting an event replaces its item: the stream emits a MODIFY record, which the scoring and lake
readers drop (they take INSERT only), so nothing is scored or exported twice. The rewritten event leaves
the person's `ByIdentity` partitions, so the next page of an erasure finds only what is left.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.events import TrackedEvent
from leadstream.profiles import IdentityRef
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, batch_put, serialize

# Properties kept as they are when they are numbers, flags or plain ids.
_ID_KEY = re.compile(r"(^id$|Id$|_id$|^sku$|^currency$|^variant$|^category$|^type$|^status$)")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")
_KEPT_CONTEXT = ("campaign", "library")
MAX_DEPTH = 6


def personal_events(identities: Sequence[IdentityRef], limit: int) -> list[str]:
    """Up to `limit` keys (`pk`) of events still filed under one of these identities (ByIdentity)."""
    table = get_settings().events_table
    client = dynamodb()
    found: list[str] = []
    for ref in identities:
        if ref.kind not in ("user", "anon", "email"):
            continue  # email: events with neither id, filed under their address (email feedback)
        request: dict[str, Any] = {
            "TableName": table,
            "IndexName": keys.EVENTS_BY_IDENTITY_INDEX,
            "KeyConditionExpression": "#identity = :identity",
            "ExpressionAttributeNames": {"#identity": "identity"},
            "ExpressionAttributeValues": serialize({":identity": keys.event_identity(ref.kind, ref.value)}),
            "Limit": limit,
        }
        while len(found) < limit:
            response = client.query(**request)
            found += [item["pk"]["S"] for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        if len(found) >= limit:
            break
    return list(dict.fromkeys(found))[:limit]


def forget_events(pks: Sequence[str], pseudonym: str, needles: Sequence[str]) -> int:
    """Rewrite these events anonymous (one BatchGetItem per 100, one BatchWriteItem per 25); returns how
    many were there (an event expired meanwhile is simply gone)."""
    table = get_settings().events_table
    items = batch_get(table, [{"pk": pk, "sk": keys.EVENT_SK} for pk in pks], consistent=True)
    rewritten = []
    for item in items:
        event = anonymous_event(TrackedEvent.from_item(item), pseudonym, needles)
        rewritten.append(event.to_item({"pk": item["pk"], "sk": item["sk"]}, int(item.get("ttl", 0))))
    batch_put(table, rewritten)
    return len(items)


def anonymous_event(event: TrackedEvent, pseudonym: str, needles: Sequence[str]) -> TrackedEvent:
    """The event without anything that identifies its person (the module's docstring says what stays)."""
    lowered = [needle.lower() for needle in needles if needle]
    context = {
        name: _kept(event.context[name], lowered, 0, keep_text=True)
        for name in _KEPT_CONTEXT
        if isinstance(event.context.get(name), dict)
    }
    return event.model_copy(
        update={
            "user_id": None,
            "anonymous_id": pseudonym,
            "previous_id": None,
            "group_id": event.group_id if _clean(event.group_id, lowered) else None,
            "name": event.name if _clean(event.name, lowered) else None,
            "event": event.event if _clean(event.event, lowered) else "(erased)",
            "category": event.category if _clean(event.category, lowered) else None,
            "properties": _kept(event.properties, lowered, 0, keep_text=False) or {},
            "traits": {},
            "context": {name: value for name, value in context.items() if value},
            "integrations": {},
            "extra": {},
        }
    )


def _kept(value: Any, needles: list[str], depth: int, *, keep_text: bool, key: str = "") -> Any:
    """Numbers, flags and plain ids (under an id-like key); maps and lists of them. None: drop it."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        plain = keep_text or (_ID_KEY.search(key) is not None and _PLAIN_ID.match(value) is not None)
        return value if plain and _clean(value, needles) and "@" not in value else None
    if isinstance(value, dict):
        kept = {
            name: inner
            for name, item in value.items()
            if (inner := _kept(item, needles, depth + 1, keep_text=keep_text, key=str(name))) is not None
        }
        return kept or None
    if isinstance(value, list):
        items = [_kept(item, needles, depth + 1, keep_text=keep_text, key=key) for item in value]
        return [item for item in items if item is not None] or None
    return None


def _clean(value: str | None, needles: list[str]) -> bool:
    if value is None:
        return True
    lowered = value.lower()
    return not any(needle in lowered for needle in needles)

"""Webhooks: subscriptions to catalog events, signed deliveries, retries with backoff, a dead letter.

How an event travels (docs/integrations.md):

    bus ──rule (catalog sources)──▶ WebhookQueue ──▶ fan_out: one delivery item + one queue message per
    matching active subscription ──▶ WebhookQueue ──▶ attempt: POST, signed (Standard Webhooks)
        2xx: delivered · else: retried after BACKOFF (the message's own visibility timeout) until
        RETRY_WINDOW has passed since the first attempt, then `dead` and on the dead-letter queue

Each (subscription, event) is its own message with its own timer, so a receiver that is slow or down
delays only its own deliveries: the others' messages are attempted in parallel in the same batch, and
never wait behind its backoff. A delivery attempt holds a claim on its number (`attempts`), so copies of a
message never POST twice for the same attempt; a crash between a POST and recording its result repeats
that POST with the same `webhook-id`, which receivers use to de-duplicate, as the specification says.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from integrations import addresses, delivery, signing
from integrations.catalog import EVENT_TYPES, SCORING_SOURCE, event_id
from integrations.delivery import Response
from integrations.settings import integration_settings
from integrations.store import webhooks as store
from leadstream import clock
from leadstream.errors import Conflict, InvalidInput, NotFound
from leadstream.models import Model
from leadstream.profiles import iso_utc

# The Standard Webhooks schedule (seconds after the previous attempt): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 10 h ... The attempts go on until RETRY_WINDOW has passed since the first one (the 8th attempt comes
# about 27.6 hours after the first), so a receiver down for a day still gets everything.
BACKOFF_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
RETRY_WINDOW = timedelta(hours=24)
MAX_PARALLEL = 10
MAX_RESPONSE_BYTES = 1024  # what of a receiver's answer is kept (for the admin to read)
WILDCARD = "*"
# An attempt holds its delivery for two timeouts and this long: a copy of its message waits meanwhile, and
# if the attempt dies, the delivery is due again when the lease ends.
LEASE_MARGIN_SECONDS = 30


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"
    RETRYING = "retrying"  # failed; the next attempt is at nextAttemptAt
    DEAD = "dead"  # given up after the retry window; on the dead-letter queue; redeliver by hand
    PAUSED = "paused"  # its subscription was paused when it was due; redeliver by hand


EventType = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _check_event_types(value: list[str]) -> list[str]:
    unknown = [name for name in value if name != WILDCARD and name not in EVENT_TYPES]
    if unknown:
        raise ValueError(
            f"unknown event types {unknown}; use {WILDCARD!r} or names from docs/events.md "
            f"(such as {', '.join(list(EVENT_TYPES)[:3])})"
        )
    return sorted(set(value))


class SubscriptionInput(Model):
    """A new subscription: where to send which events."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=addresses.MAX_URL_LENGTH)] = Field(
        description="https URL of the receiver (a public address)"
    )
    event_types: list[EventType] = Field(
        alias="eventTypes", min_length=1, max_length=len(EVENT_TYPES) + 1, description="catalog types, or `*`"
    )
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    _types = field_validator("event_types")(_check_event_types)


class SubscriptionChanges(Model):
    """A change of a subscription: any of its URL, event types, description, status (active or paused)."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=addresses.MAX_URL_LENGTH)] | None = None
    event_types: list[EventType] | None = Field(
        default=None, alias="eventTypes", min_length=1, max_length=len(EVENT_TYPES) + 1
    )
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    status: SubscriptionStatus | None = None

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_event_types(value)


class Subscription(Model):
    """A subscription as the API shows it (never with its secret)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    subscription_id: str = Field(alias="subscriptionId")
    url: str
    event_types: list[str] = Field(alias="eventTypes")
    description: str | None = None
    status: SubscriptionStatus
    version: int
    created_at: str = Field(alias="createdAt")
    created_by: str | None = Field(default=None, alias="createdBy")
    updated_at: str = Field(alias="updatedAt")


class CreatedSubscription(Subscription):
    secret: str = Field(description="the signing secret: shown this once, keep it")


class Delivery(Model):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    delivery_id: str = Field(alias="deliveryId", description="the event id (also the `webhook-id` header)")
    subscription_id: str = Field(alias="subscriptionId")
    event_type: str = Field(alias="eventType")
    status: DeliveryStatus
    attempts: int
    created_at: str = Field(alias="createdAt")
    first_attempt_at: str | None = Field(default=None, alias="firstAttemptAt")
    last_attempt_at: str | None = Field(default=None, alias="lastAttemptAt")
    next_attempt_at: str | None = Field(default=None, alias="nextAttemptAt")
    delivered_at: str | None = Field(default=None, alias="deliveredAt")
    response_code: int | None = Field(default=None, alias="responseCode")
    error: str | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Delivery:
        return cls.model_validate({**item, "deliveryId": item["eventId"]})


def _iso(moment: datetime) -> str:
    """Fixed width (microseconds always): the strings compare as the moments do (`nextAttemptAt <= now`)."""
    return iso_utc(moment)


def _refused(exc: addresses.AddressRefused) -> InvalidInput:
    return InvalidInput(
        f"The webhook URL cannot be used: {exc}.", errors=[{"field": "url", "message": str(exc)}]
    )


def _check_url(url: str) -> None:
    try:
        addresses.checked(url, allow_loopback=integration_settings().allow_loopback)
    except addresses.AddressRefused as exc:
        raise _refused(exc) from None


# --- subscriptions ------------------------------------------------------------------------------------
def create_subscription(
    body: SubscriptionInput, *, user: str | None, new_id: str | None = None
) -> CreatedSubscription:
    _check_url(body.url)
    now = _iso(clock.now())
    subscription_id = f"whk-{(uuid.UUID(new_id) if new_id else uuid.uuid4()).hex[:16]}"
    item = {
        "subscriptionId": subscription_id,
        "url": body.url,
        "eventTypes": body.event_types,
        "description": body.description,
        "status": body.status.value,
        "secret": signing.new_secret(),
        "version": 1,
        "createdAt": now,
        "createdBy": user,
        "updatedAt": now,
    }
    if not store.put_subscription(item, expected_version=None):
        raise Conflict(f"Subscription {subscription_id} exists already; retry without the same id.")
    return CreatedSubscription.model_validate(item)


def get_subscription(subscription_id: str) -> Subscription:
    item = store.get_subscription(subscription_id)
    if item is None:
        raise NotFound(f"There is no webhook subscription {subscription_id!r}.")
    return Subscription.model_validate(item)


def list_subscriptions(*, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
    items, next_cursor = store.list_subscriptions(limit=limit, cursor=cursor)
    return [Subscription.model_validate(item) for item in items], next_cursor


def change_subscription(
    subscription_id: str, changes: SubscriptionChanges, check_version: Callable[[int], None]
) -> Subscription:
    item = store.get_subscription(subscription_id)
    if item is None:
        raise NotFound(f"There is no webhook subscription {subscription_id!r}.")
    check_version(int(item["version"]))
    if changes.url is not None:
        _check_url(changes.url)
    updated = dict(item)
    for name, value in changes.model_dump(by_alias=True, exclude_unset=True, mode="json").items():
        if value is not None or name == "description":
            updated[name] = value
    updated["version"] = int(item["version"]) + 1
    updated["updatedAt"] = _iso(clock.now())
    if not store.put_subscription(updated, expected_version=int(item["version"])):
        raise Conflict("The subscription changed while this change was made; read it again and retry.")
    return Subscription.model_validate(updated)


def delete_subscription(subscription_id: str, check_version: Callable[[int], None]) -> None:
    item = store.get_subscription(subscription_id)
    if item is None:
        raise NotFound(f"There is no webhook subscription {subscription_id!r}.")
    check_version(int(item["version"]))
    store.delete_subscription(subscription_id)


def list_deliveries(
    subscription_id: str, *, status: DeliveryStatus | None, limit: int, cursor: str | None
) -> tuple[list[Delivery], str | None]:
    get_subscription(subscription_id)
    items, next_cursor = store.list_deliveries(
        subscription_id, status=status.value if status else None, limit=limit, cursor=cursor
    )
    return [Delivery.of(item) for item in items], next_cursor


def redeliver(subscription_id: str, delivery_id: str) -> Delivery:
    """Try a delivery again now, with a new retry window (whatever its status: dead, paused, delivered)."""
    get_subscription(subscription_id)
    item = store.get_delivery(subscription_id, delivery_id)
    if item is None:
        raise NotFound(f"Subscription {subscription_id!r} has no delivery {delivery_id!r}.")
    now = _iso(clock.now())
    changes = {
        "status": DeliveryStatus.PENDING.value,
        "firstAttemptAt": None,
        "nextAttemptAt": now,
        "error": None,
    }
    if not store.update_delivery(
        subscription_id, delivery_id, changes, condition={"attempts": item["attempts"]}
    ):
        raise Conflict("The delivery is being attempted right now; look at it again in a moment.")
    store.enqueue([_message(subscription_id, delivery_id)])
    return Delivery.of({**item, **changes})


# --- fan-out: a catalog event from the bus into one delivery per subscription ---------------------------
@dataclass(frozen=True)
class BusEvent:
    id: str
    type: str
    body: str  # the JSON the receiver gets


def bus_event(envelope: Mapping[str, Any]) -> BusEvent | None:
    """The catalog event of an EventBridge event (as the bus rule puts it on the queue)."""
    detail = envelope.get("detail")
    type_ = envelope.get("detail-type")
    if not isinstance(detail, Mapping) or type_ not in EVENT_TYPES:
        return None
    if envelope.get("source") == SCORING_SOURCE:  # lead.qualified: flat detail, id from its lead id
        payload = {
            "id": event_id(type_, detail.get("leadId")),
            "type": type_,
            "version": 1,
            "occurredAt": str(envelope.get("time", "")),
            "data": dict(detail),
        }
    else:
        payload = dict(detail)
    return BusEvent(str(payload["id"]), str(type_), json.dumps(payload, separators=(",", ":")))


def wants(subscription: Mapping[str, Any], type_: str) -> bool:
    types = subscription.get("eventTypes") or []
    return subscription.get("status") == SubscriptionStatus.ACTIVE and (WILDCARD in types or type_ in types)


def fan_out(events: Sequence[BusEvent]) -> int:
    """One delivery (and one queue message) per event and active subscription that wants it; returns how
    many were queued. Idempotent: a delivery that exists is not made again (nor queued, once attempted)."""
    if not events:
        return 0
    subscriptions = store.all_subscriptions()
    now = _iso(clock.now())
    queued: list[dict[str, str]] = []
    for event in {event.id: event for event in events}.values():  # the same event twice: once
        for subscription in subscriptions:
            if not wants(subscription, event.type):
                continue
            subscription_id = str(subscription["subscriptionId"])
            item = {
                "subscriptionId": subscription_id,
                "eventId": event.id,
                "eventType": event.type,
                "payload": event.body,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "createdAt": now,
                "nextAttemptAt": now,
            }
            if not store.create_delivery(item):
                existing = store.get_delivery(subscription_id, event.id)
                if not existing or existing.get("status") != "pending" or existing.get("attempts") != 0:
                    continue  # made and attempted before: its own message carries it
            queued.append(_message(subscription_id, event.id))
    if queued:
        store.enqueue(queued)
    return len(queued)


def _message(subscription_id: str, delivery_id: str) -> dict[str, str]:
    return {"kind": "delivery", "subscriptionId": subscription_id, "deliveryId": delivery_id}


# --- attempts -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    body: Mapping[str, Any]
    receipt_handle: str


Outcome = Literal["done", "retry", "skipped"]


def attempt_all(messages: Sequence[QueueMessage], post: Any = None) -> list[str]:
    """Attempt the deliveries of a batch in parallel; returns the message ids to leave on the queue (their
    visibility set to their backoff). `post(target, addresses, headers, body, timeout) -> Response` is the
    HTTP call (delivery.post unless a test gives another)."""
    if not messages:
        return []
    post = post or delivery.post
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(messages))) as pool:
        outcomes = list(pool.map(lambda message: _attempt_safely(message, post), messages))
    return [
        message.message_id for message, outcome in zip(messages, outcomes, strict=True) if outcome == "retry"
    ]


def _attempt_safely(message: QueueMessage, post: Any) -> Outcome:
    """An attempt whose own failure (storage, the queue) leaves only its message for a retry: it comes back
    after the queue's visibility timeout, and the others of the batch are unaffected."""
    try:
        return attempt(message, post)
    except Exception:
        logging.getLogger(__name__).exception("webhook attempt failed: %s", message.message_id)
        return "retry"


def attempt(message: QueueMessage, post: Any) -> Outcome:
    """One attempt of one delivery (the message names it): claim it, POST, record the outcome."""
    subscription_id = str(message.body.get("subscriptionId", ""))
    delivery_id = str(message.body.get("deliveryId", ""))
    now = clock.now()
    lease = now + timedelta(seconds=integration_settings().timeout_seconds * 2 + LEASE_MARGIN_SECONDS)
    item = store.claim_attempt(subscription_id, delivery_id, _iso(now), _iso(lease))
    if item is None:
        return _not_claimed(message, subscription_id, delivery_id, now)
    attempts = int(item["attempts"])
    subscription = store.get_subscription(subscription_id)
    if subscription is None:
        _finish(
            subscription_id, delivery_id, attempts, DeliveryStatus.DEAD, error="the subscription was deleted"
        )
        return "done"
    if subscription.get("status") != SubscriptionStatus.ACTIVE:
        _finish(
            subscription_id, delivery_id, attempts, DeliveryStatus.PAUSED, error="the subscription is paused"
        )
        return "done"
    response = _send(subscription, delivery_id, str(item["payload"]), post)
    if response.status is not None and 200 <= response.status < 300:
        changes = {
            "status": "delivered",
            "deliveredAt": _iso(now),
            "responseCode": response.status,
            "error": None,
        }
        changes["nextAttemptAt"] = None
        store.update_delivery(subscription_id, delivery_id, changes, condition={"attempts": attempts})
        return "done"
    first = datetime.fromisoformat(str(item["firstAttemptAt"]).replace("Z", "+00:00"))
    if now - first >= RETRY_WINDOW:
        _finish(subscription_id, delivery_id, attempts, DeliveryStatus.DEAD, response=response)
        store.dead_letter({**_message(subscription_id, delivery_id), "eventType": item.get("eventType")})
        return "done"
    delay = backoff(attempts)
    changes = {
        "status": DeliveryStatus.RETRYING.value,
        "nextAttemptAt": _iso(now + timedelta(seconds=delay)),
        "responseCode": response.status,
        "error": response.error,
    }
    store.update_delivery(subscription_id, delivery_id, changes, condition={"attempts": attempts})
    store.hide_for(message.receipt_handle, delay)
    return "retry"


def _not_claimed(message: QueueMessage, subscription_id: str, delivery_id: str, now: datetime) -> Outcome:
    """Why the claim failed: done (or gone), or not due yet (a copy of the message, an attempt under way,
    a clock moved back): then the message sleeps until it is due."""
    item = store.get_delivery(subscription_id, delivery_id)
    if item is None or item.get("status") not in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
        return "skipped"
    due = datetime.fromisoformat(str(item.get("nextAttemptAt") or _iso(now)).replace("Z", "+00:00"))
    if due <= now:
        return "skipped"  # claimed and finished between the two reads: nothing left for this copy
    store.hide_for(message.receipt_handle, int((due - now).total_seconds()) + 1)
    return "retry"


def backoff(attempts_made: int) -> int:
    """Seconds to wait after the n-th failed attempt (n >= 1)."""
    return BACKOFF_SECONDS[min(attempts_made, len(BACKOFF_SECONDS)) - 1]


def _finish(
    subscription_id: str,
    delivery_id: str,
    attempts: int,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    response: Response | None = None,
) -> None:
    changes: dict[str, Any] = {"status": status.value, "nextAttemptAt": None}
    if response is not None:
        changes |= {"responseCode": response.status, "error": response.error}
    else:
        changes["error"] = error
    store.update_delivery(subscription_id, delivery_id, changes, condition={"attempts": attempts})


def _send(subscription: Mapping[str, Any], delivery_id: str, body: str, post: Any) -> Response:
    settings = integration_settings()
    try:
        target, resolved = addresses.checked(str(subscription["url"]), allow_loopback=settings.allow_loopback)
    except addresses.AddressRefused as exc:
        return Response(None, f"refused: {exc}")
    # The signature's timestamp is the wall clock, not the business clock: receivers compare it with theirs
    # to refuse replays (the local stack may have moved the business clock days ahead).
    headers = signing.headers(str(subscription["secret"]), delivery_id, int(time.time()), body)
    result: Response = post(target, resolved, headers, body, settings.timeout_seconds)
    return result

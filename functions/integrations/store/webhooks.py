"""Webhook subscriptions and deliveries in the main table, and the delivery queue (SQS).

| item | pk | sk | GSI1 |
| --- | --- | --- | --- |
| subscription | `WEBHOOK#<id>` | `WEBHOOK` | `WEBHOOKS` / `<createdAt>#<id>` |
| delivery | `WEBHOOK#<id>` | `DELIVERY#<eventId>` | `WEBHOOK#<id>#DELIVERIES` / `<createdAt>#<eventId>` |

One delivery per (subscription, event id), created with `attribute_not_exists`: a catalog event that
reaches the fan-out twice makes one delivery. An attempt is claimed by a conditional update on the
delivery's `attempts`, so two copies of one queue message never make two attempts of the same number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from integrations.settings import integration_settings
from leadstream.aws import dynamodb, sqs
from leadstream.errors import BadRequest
from leadstream.pagination import decode_cursor, encode_cursor
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize

SUBSCRIPTIONS_PARTITION = "WEBHOOKS"
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's limit for one message's visibility timeout
SEND_BATCH_LIMIT = 10


def subscription_key(subscription_id: str) -> dict[str, str]:
    return {"pk": f"WEBHOOK#{subscription_id}", "sk": "WEBHOOK"}


def delivery_key(subscription_id: str, event_id: str) -> dict[str, str]:
    return {"pk": f"WEBHOOK#{subscription_id}", "sk": f"DELIVERY#{event_id}"}


def _table() -> str:
    return get_settings().main_table


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


# --- subscriptions ------------------------------------------------------------------------------------
def put_subscription(item: Mapping[str, Any], *, expected_version: int | None) -> bool:
    """Create (expected_version None) or replace a subscription at a version; False if it lost a race."""
    full = {
        **item,
        **subscription_key(str(item["subscriptionId"])),
        "gsi1pk": SUBSCRIPTIONS_PARTITION,
        "gsi1sk": f"{item['createdAt']}#{item['subscriptionId']}",
    }
    condition: dict[str, Any] = (
        {"ConditionExpression": "attribute_not_exists(pk)"}
        if expected_version is None
        else {
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": serialize({":v": expected_version}),
        }
    )
    try:
        dynamodb().put_item(TableName=_table(), Item=serialize(full), **condition)
    except ClientError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def get_subscription(subscription_id: str) -> dict[str, Any] | None:
    return get_item(_table(), subscription_key(subscription_id), consistent=True)


def delete_subscription(subscription_id: str) -> None:
    dynamodb().delete_item(TableName=_table(), Key=serialize(subscription_key(subscription_id)))


def list_subscriptions(*, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    return _query_gsi1(SUBSCRIPTIONS_PARTITION, limit=limit, cursor=cursor)


def all_subscriptions() -> list[dict[str, Any]]:
    """Every subscription (a handful: the fan-out reads them all, one Query page per 1 MB)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page, cursor = _query_gsi1(SUBSCRIPTIONS_PARTITION, limit=1000, cursor=cursor)
        found.extend(page)
        if cursor is None:
            return found


def _query_gsi1(
    partition: str, *, limit: int, cursor: str | None, status: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": serialize({":pk": partition}),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if status is not None:
        request["FilterExpression"] = "#status = :status"
        request["ExpressionAttributeNames"] = {"#status": "status"}
        request["ExpressionAttributeValues"] = serialize({":pk": partition, ":status": status})
    start = decode_cursor(cursor)
    if start is not None:
        if not isinstance(start, dict) or start.get("gsi1pk") != partition:
            raise BadRequest("`cursor` is not one this list returned; pass `nextCursor` from the last page.")
        request["ExclusiveStartKey"] = serialize(start)
    response = dynamodb().query(**request)
    items = [deserialize(item) for item in response.get("Items", [])]
    last = response.get("LastEvaluatedKey")
    return items, encode_cursor(deserialize(last) if last else None)


# --- deliveries ---------------------------------------------------------------------------------------
def create_delivery(item: Mapping[str, Any]) -> bool:
    """Put a new delivery; False when it exists already (the event reached the fan-out before)."""
    subscription_id, event_id = str(item["subscriptionId"]), str(item["eventId"])
    full = {
        **item,
        **delivery_key(subscription_id, event_id),
        "gsi1pk": f"WEBHOOK#{subscription_id}#DELIVERIES",
        "gsi1sk": f"{item['createdAt']}#{event_id}",
    }
    try:
        dynamodb().put_item(
            TableName=_table(), Item=serialize(full), ConditionExpression="attribute_not_exists(pk)"
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def get_delivery(subscription_id: str, event_id: str) -> dict[str, Any] | None:
    return get_item(_table(), delivery_key(subscription_id, event_id), consistent=True)


def list_deliveries(
    subscription_id: str, *, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return _query_gsi1(f"WEBHOOK#{subscription_id}#DELIVERIES", limit=limit, cursor=cursor, status=status)


def update_delivery(
    subscription_id: str, event_id: str, changes: Mapping[str, Any], *, condition: Mapping[str, Any]
) -> bool:
    """Set `changes` on a delivery if each attribute in `condition` still has the given value."""
    names = {f"#c{i}": name for i, name in enumerate(changes)}
    values = {f":c{i}": value for i, value in enumerate(changes.values()) if value is not None}
    sets = [f"#c{i} = :c{i}" for i, value in enumerate(changes.values()) if value is not None]
    removes = [f"#c{i}" for i, value in enumerate(changes.values()) if value is None]
    expression = " ".join(
        part
        for part in (
            "SET " + ", ".join(sets) if sets else "",
            "REMOVE " + ", ".join(removes) if removes else "",
        )
        if part
    )
    checks = []
    for j, (name, value) in enumerate(condition.items()):
        names[f"#k{j}"] = name
        values[f":k{j}"] = value
        checks.append(f"#k{j} = :k{j}")
    try:
        dynamodb().update_item(
            TableName=_table(),
            Key=serialize(delivery_key(subscription_id, event_id)),
            UpdateExpression=expression,
            ConditionExpression=" AND ".join(["attribute_exists(pk)", *checks]),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(values),
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def claim_attempt(subscription_id: str, event_id: str, now: str, lease_until: str) -> dict[str, Any] | None:
    """Take the next attempt of a delivery that is due (pending or retrying, `nextAttemptAt <= now`): one
    UpdateItem that counts the attempt and moves `nextAttemptAt` to the end of a lease, so another copy of
    the message finds it not due. Returns the delivery as it now is, or None when it is not due or done."""
    try:
        response = dynamodb().update_item(
            TableName=_table(),
            Key=serialize(delivery_key(subscription_id, event_id)),
            UpdateExpression=(
                "SET attempts = attempts + :one, lastAttemptAt = :now, nextAttemptAt = :lease, "
                "firstAttemptAt = if_not_exists(firstAttemptAt, :now)"
            ),
            ConditionExpression=(
                "attribute_exists(pk) AND #status IN (:pending, :retrying) AND "
                "(attribute_not_exists(nextAttemptAt) OR nextAttemptAt <= :now)"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize(
                {
                    ":one": 1,
                    ":now": now,
                    ":lease": lease_until,
                    ":pending": "pending",
                    ":retrying": "retrying",
                }
            ),
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return deserialize(response["Attributes"])


# --- the queue ----------------------------------------------------------------------------------------
def enqueue(messages: Sequence[Mapping[str, Any]], *, delay_seconds: int = 0) -> None:
    """Send delivery messages to the webhook queue, 10 per SendMessageBatch."""
    url = integration_settings().webhook_queue_url
    if not url:
        raise RuntimeError("WEBHOOK_QUEUE_URL is not set")
    for start in range(0, len(messages), SEND_BATCH_LIMIT):
        chunk = messages[start : start + SEND_BATCH_LIMIT]
        response = sqs().send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": json.dumps(message, separators=(",", ":")),
                    "DelaySeconds": delay_seconds,
                }
                for index, message in enumerate(chunk)
            ],
        )
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused {len(response['Failed'])} webhook messages")


def hide_for(receipt_handle: str, seconds: int) -> None:
    """Make a received message visible again after `seconds` (at most 12 hours): the retry's backoff."""
    url = integration_settings().webhook_queue_url
    if not url:
        raise RuntimeError("WEBHOOK_QUEUE_URL is not set")
    sqs().change_message_visibility(
        QueueUrl=url,
        ReceiptHandle=receipt_handle,
        VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
    )


def dead_letter(message: Mapping[str, Any]) -> None:
    """Keep a delivery given up after the retry window on the dead-letter queue (it is also marked `dead`)."""
    url = integration_settings().webhook_dead_letter_queue_url
    if url:
        sqs().send_message(QueueUrl=url, MessageBody=json.dumps(message, separators=(",", ":")))

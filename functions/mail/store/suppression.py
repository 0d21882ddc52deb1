"""The suppression list in the main table: one item per address, one `<reason>At` attribute per reason.

Adding a reason is one UpdateItem that keeps the first time it was recorded (`if_not_exists`), so a
repeated unsubscribe, a redelivered bounce or a resent complaint changes nothing. A check is one GetItem,
or one BatchGetItem for a batch of recipients.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize
from mail.suppression import Suppression, SuppressionReason, normalize_email


def _reason_attribute(reason: SuppressionReason) -> str:
    return f"{reason.value}At"


def from_item(item: dict[str, Any]) -> Suppression:
    reasons = {
        reason: item[_reason_attribute(reason)]
        for reason in SuppressionReason
        if _reason_attribute(reason) in item
    }
    return Suppression.model_validate({**item, "reasons": reasons})


def get_suppression(email: str) -> Suppression | None:
    item = get_item(get_settings().main_table, keys.suppression_key(normalize_email(email)), consistent=True)
    return from_item(item) if item else None


def suppressions_of(emails: Iterable[str]) -> dict[str, Suppression]:
    """The suppression entries among `emails` (normalized address -> entry), one BatchGetItem per 100."""
    wanted = {normalize_email(email) for email in emails}
    items = batch_get(get_settings().main_table, [keys.suppression_key(email) for email in wanted])
    found = (from_item(item) for item in items)
    return {entry.email: entry for entry in found}


def suppress(
    email: str,
    reason: SuppressionReason,
    at: datetime,
    *,
    message_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Put the address on the list for `reason` (idempotent: the first time is kept)."""
    address = normalize_email(email)
    sets = ["email = :email", "#at = if_not_exists(#at, :at)", "updatedAt = :now"]
    values: dict[str, Any] = {":email": address, ":at": iso_utc(at), ":now": iso_utc(at)}
    if message_id:
        sets.append("messageId = if_not_exists(messageId, :message)")
        values[":message"] = message_id
    if detail:
        sets.append("detail = if_not_exists(detail, :detail)")
        values[":detail"] = detail[:1000]
    dynamodb().update_item(
        TableName=get_settings().main_table,
        Key=serialize(keys.suppression_key(address)),
        UpdateExpression="SET " + ", ".join(sets),
        ExpressionAttributeNames={"#at": _reason_attribute(reason)},
        ExpressionAttributeValues=serialize(values),
    )


def remove_reason(email: str, reason: SuppressionReason, at: datetime) -> Suppression | None:
    """Take one reason off an address (None: it is not on the list). The entry stays, with its other
    reasons and when it was last changed."""
    try:
        response = dynamodb().update_item(
            TableName=get_settings().main_table,
            Key=serialize(keys.suppression_key(normalize_email(email))),
            UpdateExpression="REMOVE #at SET updatedAt = :now",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#at": _reason_attribute(reason)},
            ExpressionAttributeValues=serialize({":now": iso_utc(at)}),
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return from_item(deserialize(response["Attributes"]))

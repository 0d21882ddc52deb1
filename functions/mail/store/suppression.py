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
from leadstream.privacy import address_hashes
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
    """The address's entry: its own, or (an erased person's address) the entry of its salted hash."""
    address = normalize_email(email)
    item = get_item(get_settings().main_table, keys.suppression_key(address), consistent=True)
    if item is None:
        hashed = address_hashes([address])[address]
        item = get_item(get_settings().main_table, keys.hashed_suppression_key(hashed), consistent=True)
    return _entry(item, address) if item else None


def suppressions_of(emails: Iterable[str]) -> dict[str, Suppression]:
    """The suppression entries among `emails` (normalized address -> entry), one BatchGetItem per 100
    keys: each address is looked up in plain and by its salted hash (an erased person's address)."""
    wanted = {normalize_email(email) for email in emails}
    hashes = address_hashes(sorted(wanted))
    by_hash = {hashed: address for address, hashed in hashes.items()}
    wanted_keys = [keys.suppression_key(email) for email in wanted]
    wanted_keys += [keys.hashed_suppression_key(hashed) for hashed in by_hash]
    found: dict[str, Suppression] = {}
    for item in batch_get(get_settings().main_table, wanted_keys):
        hashed = item.get("addressHash")
        address = by_hash.get(str(hashed)) if hashed else str(item.get("email", ""))
        if address:
            found[address] = _entry(item, address)
    return found


def _entry(item: dict[str, Any], address: str) -> Suppression:
    """An entry for `address` (a hashed entry has no address of its own: the caller's is used)."""
    return from_item({**item, "email": item.get("email") or address})


def erase_address(email: str, at: datetime) -> bool:
    """An erased person's address: its entry (kept, with its reasons, or a new `manual` one) moves under
    the address's salted hash, and the plain entry goes. The sender still refuses the address
    (`suppressions_of` looks hashes up). Idempotent: True when a plain entry was replaced now."""
    address = normalize_email(email)
    table = get_settings().main_table
    hashed = address_hashes([address])[address]
    plain = get_item(table, keys.suppression_key(address), consistent=True)
    now = iso_utc(at)
    reasons = {
        _reason_attribute(reason): plain[_reason_attribute(reason)]
        for reason in SuppressionReason
        if plain and _reason_attribute(reason) in plain
    }
    sets = ["addressHash = :hash", "updatedAt = :now", "erasedAt = if_not_exists(erasedAt, :now)"]
    values: dict[str, Any] = {":hash": hashed, ":now": now}
    names: dict[str, str] = {}
    for index, (attribute, value) in enumerate(sorted(reasons.items())):
        names[f"#r{index}"] = attribute
        sets.append(f"#r{index} = if_not_exists(#r{index}, :r{index})")
        values[f":r{index}"] = value
    if not reasons:
        names["#manual"] = _reason_attribute(SuppressionReason.MANUAL)
        sets.append("#manual = if_not_exists(#manual, :now)")
        sets.append("detail = if_not_exists(detail, :detail)")
        values[":detail"] = "erased on request (docs/customer-data.md, Erasure)"
    client = dynamodb()
    client.update_item(
        TableName=table,
        Key=serialize(keys.hashed_suppression_key(hashed)),
        UpdateExpression="SET " + ", ".join(sets),
        **({"ExpressionAttributeNames": names} if names else {}),  # type: ignore[arg-type]
        ExpressionAttributeValues=serialize(values),
    )
    if plain is None:
        return False
    client.delete_item(TableName=table, Key=serialize(keys.suppression_key(address)))
    return True


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

"""Erasure of a person's email data (docs/customer-data.md, Erasure).

A send record keeps what reports count (template, campaign, journey, variant, status and every outcome's
time) and loses the address it went to and its subject line (a subject can greet the person by name).
No rendered copy of an email is kept anywhere: a body is rendered at sending time and handed to SES. The
address stays suppressed, as a salted hash only (mail.store.suppression.erase_address).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import serialize
from mail.store.suppression import erase_address

PERSONAL_ATTRIBUTES = ("email", "subject")


def personal_sends(profile_ids: Sequence[str], limit: int) -> list[str]:
    """Up to `limit` message ids of the send records of these profiles that still hold an address or a
    subject (one Query page of the by-profile index per profile)."""
    found: list[str] = []
    client = dynamodb()
    for profile_id in profile_ids:
        request: dict[str, Any] = {
            "TableName": get_settings().main_table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "gsi1pk = :pk",
            "FilterExpression": "attribute_exists(email) OR attribute_exists(subject)",
            "ProjectionExpression": "messageId",
            "ExpressionAttributeValues": serialize(
                {":pk": keys.send_profile_index(profile_id, "", "")["gsi1pk"]}
            ),
        }
        while len(found) < limit:
            response = client.query(**request)
            found += [item["messageId"]["S"] for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        if len(found) >= limit:
            break
    return found[:limit]


def forget_sends(message_ids: Sequence[str], at: datetime) -> int:
    """Remove the address and subject of these send records (idempotent); the rest stays for reports."""
    table = get_settings().main_table
    for message_id in message_ids:
        _forget_one(table, message_id, at)
    return len(message_ids)


def _forget_one(table: str, message_id: str, at: datetime) -> None:
    client = dynamodb()
    try:
        client.update_item(
            TableName=table,
            Key=serialize(keys.send_key(message_id)),
            UpdateExpression="REMOVE email, subject SET erasedAt = if_not_exists(erasedAt, :at)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=serialize({":at": iso_utc(at)}),
        )
    except client.exceptions.ConditionalCheckFailedException:
        return  # gone meanwhile: nothing personal left


def suppress_erased(addresses: Sequence[str], at: datetime) -> int:
    """Each address stays suppressed under its salted hash only; returns how many plain entries went."""
    return sum(1 for address in addresses if erase_address(address, at))

"""Erasure of a visitor's website data (docs/customer-data.md, Erasure): the pop-up impressions counted
against their cap (`SEEN#<anonymousId>` in each pop-up's partition) and the gated assets their forms
unlocked (`WEB#unlock#<anonymousId>`). Both are keyed by the visitor's anonymous id and expire by TTL; an
erasure deletes them at once. The pages' and pop-ups' counters hold numbers only and stay. Form
submissions are tracking events (erased with the events)."""

from __future__ import annotations

from collections.abc import Sequence

from leadstream.aws import dynamodb
from leadstream.store.dynamo import deserialize, serialize
from website.store import _table, cached_popups, partition, unlock_key


def forget_visitors(anonymous_ids: Sequence[str]) -> int:
    """Delete the visitors' impression and unlock items; returns how many visitors were looked at."""
    client = dynamodb()
    table = _table()
    popups = [popup.popup_id for popup in cached_popups()]
    for anonymous_id in anonymous_ids:
        for popup_id in popups:
            client.delete_item(
                TableName=table,
                Key=serialize({"pk": partition("popup", popup_id), "sk": f"SEEN#{anonymous_id}"}),
            )
        unlocks = unlock_key("", anonymous_id)["pk"]
        response = client.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=serialize({":pk": unlocks}),
        )
        for item in response.get("Items", []):
            key = deserialize(item)
            client.delete_item(TableName=table, Key=serialize({"pk": key["pk"], "sk": key["sk"]}))
    return len(anonymous_ids)

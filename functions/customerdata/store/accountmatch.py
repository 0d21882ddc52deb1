"""Which CRM account an account import matched by each key of a row (an id in another system, a domain,
a name): one item per key, so a second import of the same companies finds the accounts the first made.

A key is claimed once (`attribute_not_exists`): the first account to hold a domain or a name keeps it.
"""

from __future__ import annotations

from collections.abc import Collection

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, serialize

type MatchKey = tuple[str, str]  # (kind: ext, domain or name; the normalised value)


def lookup(wanted: Collection[MatchKey]) -> dict[MatchKey, str]:
    """The account id of each key that is claimed (one BatchGetItem per 100 keys)."""
    items = batch_get(
        get_settings().main_table, [keys.account_match_key(kind, value) for kind, value in wanted]
    )
    return {(str(item["kind"]), str(item["value"])): str(item["accountId"]) for item in items}


def claim(wanted: Collection[MatchKey], account_id: str) -> None:
    """Claim the keys for the account; a key another account holds stays that account's."""
    client = dynamodb()
    table = get_settings().main_table
    for kind, value in wanted:
        item = {**keys.account_match_key(kind, value), "kind": kind, "value": value, "accountId": account_id}
        try:
            client.put_item(
                TableName=table, Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except client.exceptions.ConditionalCheckFailedException:
            continue

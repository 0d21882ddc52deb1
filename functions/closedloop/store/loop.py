"""The closed loop's items in the main table (docs/closed-loop.md, docs/data-model.md): applied-change
markers, a person's open deals, revenue per person and account, the profile→contact link, the people of an
account and of a Segment group, and the account a group id names.

Every effect of one CRM change is one TransactWriteItems that also puts the change's marker
(`attribute_not_exists`): the effects land together with the proof they landed, or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from leadstream import clock, keys
from leadstream.aws import dynamodb
from leadstream.profiles import IdentityRef, IdentityWrite, Profile
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize
from leadstream.store.profiles import LOST_RACE, conditional_profile_put, identity_item, load_profiles

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# A stream record lives 24 hours; a marker outlives every redelivery of it by far.
MARKER_LIFETIME = timedelta(days=7)
MAX_ACCOUNT_PEOPLE = 1000
REVENUE_SOURCES = ("deals", "renewals", "orders")


class LostRace(Exception):
    """Something the change's plan was read from changed meanwhile (a profile's version, a person's open
    deals): read again and plan again."""


def _table() -> str:
    return get_settings().main_table


# --- applying one change exactly once -------------------------------------------------------------
def commit(change_id: str, items: Sequence[TransactWriteItemTypeDef]) -> bool:
    """The change's effects and its marker in one transaction. False: the marker exists (a redelivery,
    nothing written). Raises LostRace when another condition failed."""
    marker: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": _table(),
            "Item": serialize(
                {
                    **keys.loop_marker_key(change_id),
                    "at": clock.now().isoformat(),
                    "ttl": int((clock.now() + MARKER_LIFETIME).timestamp()),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=[marker, *items])
    except client.exceptions.TransactionCanceledException as exc:
        codes = [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]
        if codes and codes[0] == "ConditionalCheckFailed":
            return False
        if set(codes) <= LOST_RACE:
            raise LostRace(change_id) from exc
        raise
    return True


def applied(change_ids: Iterable[str]) -> set[str]:
    """The changes among `change_ids` that were applied before (one consistent BatchGetItem per 100)."""
    items = batch_get(_table(), [keys.loop_marker_key(change_id) for change_id in change_ids])
    return {str(item["pk"]).removeprefix("CLOSEDLOOP#") for item in items}


# --- items of a transaction ---------------------------------------------------------------------------
def profile_put(profile: Profile, expected_version: int) -> TransactWriteItemTypeDef:
    return conditional_profile_put(profile, expected_version)


def identity_claim(identity: IdentityRef, profile_id: str) -> TransactWriteItemTypeDef:
    """Claim a new identity for a profile, only if nobody holds it."""
    item = identity_item(IdentityWrite(identity=identity, profile_id=profile_id, previous_owner=None))
    return {
        "Put": {
            "TableName": _table(),
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def open_deal_update(
    profile_id: str, deal_id: str, *, add: bool, expected_revision: int | None
) -> TransactWriteItemTypeDef:
    """Add a deal to (or take it from) a person's open deals; with `expected_revision`, only if the set is
    still the one read (a decision was taken on it)."""
    update: dict[str, Any] = {
        "TableName": _table(),
        "Key": serialize(keys.open_deals_key(profile_id)),
        "UpdateExpression": (
            "ADD deals :deal, revision :one SET profileId = :profile"
            if add
            else "DELETE deals :deal ADD revision :one SET profileId = :profile"
        ),
        "ExpressionAttributeValues": {
            ":deal": {"SS": [deal_id]},
            ":one": {"N": "1"},
            ":profile": {"S": profile_id},
        },
    }
    if expected_revision is not None:
        if expected_revision == 0:
            update["ConditionExpression"] = "attribute_not_exists(revision)"
        else:
            update["ConditionExpression"] = "revision = :read"
            update["ExpressionAttributeValues"][":read"] = {"N": str(expected_revision)}
    return cast("TransactWriteItemTypeDef", {"Update": update})


def revenue_update(
    scope: str, owner_id: str, currency: str, amounts: Mapping[str, Decimal]
) -> TransactWriteItemTypeDef:
    """Add signed amounts per source (deals, renewals, orders) to a person's or account's revenue."""
    total = sum(amounts.values(), Decimal(0))
    names = {"#total": "total"}
    values: dict[str, Any] = {
        ":total": total,
        ":currency": currency,
        ":owner": owner_id,
        ":at": clock.now().isoformat(),
    }
    adds = ["#total :total"]
    for number, (source, amount) in enumerate(sorted(amounts.items())):
        names[f"#s{number}"] = source
        values[f":s{number}"] = amount
        adds.append(f"#s{number} :s{number}")
    return {
        "Update": {
            "TableName": _table(),
            "Key": serialize(keys.revenue_key(scope, owner_id, currency)),
            "UpdateExpression": f"ADD {', '.join(adds)} SET currency = :currency, ownerId = :owner, "
            "updatedAt = :at",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(values),
        }
    }


def contact_link_put(profile_id: str, contact_id: str) -> TransactWriteItemTypeDef:
    item = {**keys.contact_link_key(profile_id), "profileId": profile_id, "contactId": contact_id}
    return {"Put": {"TableName": _table(), "Item": serialize(item)}}


def contact_link_delete(profile_id: str, contact_id: str) -> TransactWriteItemTypeDef:
    """Remove a profile's link, only if it still names this contact."""
    return {
        "Delete": {
            "TableName": _table(),
            "Key": serialize(keys.contact_link_key(profile_id)),
            "ConditionExpression": "attribute_not_exists(pk) OR contactId = :contact",
            "ExpressionAttributeValues": {":contact": {"S": contact_id}},
        }
    }


# --- reads --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenDeals:
    deals: frozenset[str]
    revision: int  # 0: never written


def open_deals(profile_id: str) -> OpenDeals:
    item = get_item(_table(), keys.open_deals_key(profile_id), consistent=True) or {}
    return OpenDeals(frozenset(item.get("deals", set())), int(item.get("revision", 0)))


def linked_contacts(profile_ids: Iterable[str]) -> dict[str, str]:
    """profileId -> contactId of the profiles that have a CRM contact (one BatchGetItem per 100)."""
    items = batch_get(_table(), [keys.contact_link_key(pid) for pid in profile_ids])
    return {str(item["profileId"]): str(item["contactId"]) for item in items}


def identity_owner(identity: IdentityRef) -> str | None:
    item = get_item(_table(), keys.identity_key(identity.kind, identity.value), consistent=True)
    return str(item["profileId"]) if item else None


def revenue_of(scope: str, owner_id: str) -> dict[str, dict[str, Decimal]]:
    """currency -> {total, deals, renewals, orders} of a person or an account (one Query)."""
    response = dynamodb().query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues=serialize({":pk": f"{scope}#{owner_id}", ":prefix": keys.REVENUE_PREFIX}),
        ConsistentRead=True,
    )
    found = {}
    for raw in response.get("Items", []):
        item = deserialize(raw)
        found[str(item["currency"])] = {
            name: Decimal(item.get(name, 0)) for name in ("total", *REVENUE_SOURCES)
        }
    return found


# --- the people of an account -------------------------------------------------------------------------
def add_account_person(account_id: str, profile_id: str, via: str) -> None:
    """Count a person in an account for a reason (a set: adding it twice is adding it once)."""
    dynamodb().update_item(
        TableName=_table(),
        Key=serialize(keys.account_person_key(account_id, profile_id)),
        UpdateExpression="ADD via :via SET profileId = :profile, accountId = :account",
        ExpressionAttributeValues=serialize({":via": {via}, ":profile": profile_id, ":account": account_id}),
    )


def remove_account_person(account_id: str, profile_id: str, via: str) -> None:
    """Take one reason away; a person with no reason left is no longer counted (the set is gone)."""
    client = dynamodb()
    with suppress(client.exceptions.ConditionalCheckFailedException):  # never counted: nothing to take
        client.update_item(
            TableName=_table(),
            Key=serialize(keys.account_person_key(account_id, profile_id)),
            UpdateExpression="DELETE via :via",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=serialize({":via": {via}}),
        )


def account_people(account_id: str) -> list[str]:
    """The profile ids counted in an account (those with a reason left), up to MAX_ACCOUNT_PEOPLE."""
    return [
        str(item["profileId"])
        for item in _partition(f"ACCOUNT#{account_id}", keys.ACCOUNT_PERSON_PREFIX, MAX_ACCOUNT_PEOPLE)
        if item.get("via")
    ]


def profiles(profile_ids: Sequence[str]) -> dict[str, Profile]:
    return load_profiles(profile_ids) if profile_ids else {}


# --- Segment groups -----------------------------------------------------------------------------------
def add_group_person(group_id: str, profile_id: str) -> None:
    item = {**keys.group_person_key(group_id, profile_id), "groupId": group_id, "profileId": profile_id}
    dynamodb().put_item(TableName=_table(), Item=serialize(item))


def remove_group_person(group_id: str, profile_id: str) -> None:
    dynamodb().delete_item(TableName=_table(), Key=serialize(keys.group_person_key(group_id, profile_id)))


def group_people(group_id: str) -> list[str]:
    return [
        str(item["profileId"])
        for item in _partition(f"GROUP#{group_id}", keys.ACCOUNT_PERSON_PREFIX, MAX_ACCOUNT_PEOPLE)
    ]


def group_account(group_id: str) -> str | None:
    """The account that claims a group id, if any."""
    item = get_item(_table(), keys.group_link_key(group_id), consistent=True)
    return str(item["accountId"]) if item else None


def link_group(group_id: str, account_id: str) -> None:
    item = {**keys.group_link_key(group_id), "groupId": group_id, "accountId": account_id}
    dynamodb().put_item(TableName=_table(), Item=serialize(item))


def unlink_group(group_id: str, account_id: str) -> None:
    """Remove a group id's link, only if it still names this account."""
    client = dynamodb()
    # Another account claims it now, or it is gone: nothing of ours to remove.
    with suppress(client.exceptions.ConditionalCheckFailedException):
        client.delete_item(
            TableName=_table(),
            Key=serialize(keys.group_link_key(group_id)),
            ConditionExpression="accountId = :account",
            ExpressionAttributeValues=serialize({":account": account_id}),
        )


def _partition(pk: str, prefix: str, limit: int) -> list[dict[str, Any]]:
    client, found = dynamodb(), list[dict[str, Any]]()
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": serialize({":pk": pk, ":prefix": prefix}),
    }
    while len(found) < limit:
        response = client.query(**request)
        found += [deserialize(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        if not last:
            break
        request["ExclusiveStartKey"] = last
    return found[:limit]

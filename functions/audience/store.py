"""Segments in the main table: definitions and their registry, one item per member, sharded member counts,
backfill progress.

Every definition change is one TransactWriteItems with the registry (the live ids and a new revision
token), so an evaluator that read the registry knows exactly which definitions are current. Every entry
or exit is one TransactWriteItems: the member item (put only if absent, deleted only if present) and
+1/-1 on one count shard. A retried change fails its condition and changes nothing, so the count is
exact however often a change is repeated. docs/segments.md, docs/data-model.md.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from audience.segments import Backfill, Segment, SegmentChange
from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.errors import Conflict
from leadstream.pagination import decode_cursor, encode_cursor
from leadstream.profiles import Profile, iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


# A definition change that keeps meeting another one at the registry gives up after this many tries.
MAX_SAVE_ATTEMPTS = 5


def _table() -> str:
    return get_settings().main_table


# --- definitions ---------------------------------------------------------------------------------------
def _definition(segment: Segment) -> dict[str, Any]:
    """The definition's attributes (backfill progress excluded: it has its own conditional writes)."""
    attributes = segment.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"backfill"})
    if not segment.archived:
        attributes |= keys.segment_list_index(iso_utc(segment.updated_at), segment.segment_id)
    return attributes


def save_segment(segment: Segment) -> bool:
    """Store `segment` as its new version: version 1 only if it does not exist, version n only if the
    stored one is still n-1 and live (False otherwise: someone else saved meanwhile). An update sets the
    definition's attributes only, so a running backfill's progress is never overwritten. The registry
    moves in the same transaction (seeded first in a table whose segments all predate it)."""
    items = [_definition_update(segment), _registry_update(segment)]
    for _ in range(MAX_SAVE_ATTEMPTS):
        reasons = _cancellation_reasons(items)
        if not reasons:
            return True
        definition, registry = reasons
        if definition == "ConditionalCheckFailed":
            return False
        if registry == "ConditionalCheckFailed":
            _seed_registry()
        elif "TransactionConflict" not in (definition, registry):
            raise RuntimeError(f"saving segment {segment.segment_id} was refused: {definition}, {registry}")
    # Another definition change held the registry every time (it is one item): the caller may retry.
    raise Conflict("Segments kept changing while this one was saved; try again.")


def _definition_update(segment: Segment) -> TransactWriteItemTypeDef:
    attributes = _definition(segment)
    names = {f"#a{n}": name for n, name in enumerate(attributes)}
    values = {f":a{n}": value for n, value in enumerate(attributes.values())}
    update = "SET " + ", ".join(f"#a{n} = :a{n}" for n in range(len(attributes)))
    if segment.archived:
        update += " REMOVE gsi1pk, gsi1sk"
    if segment.version == 1:
        condition = "attribute_not_exists(pk)"
    else:
        condition = "#version = :previous AND #archived = :false"
        names |= {"#version": "version", "#archived": "archived"}
        values |= {":previous": segment.version - 1, ":false": False}
    return {
        "Update": {
            "TableName": _table(),
            "Key": serialize(keys.segment_key(segment.segment_id)),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(values),
        }
    }


def _registry_update(segment: Segment) -> TransactWriteItemTypeDef:
    """A new revision; the segment joins the live ids, or leaves them when archived."""
    if segment.archived:
        update = "SET revision = :revision DELETE segmentIds :id"
    else:
        update = "SET revision = :revision ADD segmentIds :id"
    return {
        "Update": {
            "TableName": _table(),
            "Key": serialize(keys.segment_registry_key()),
            "UpdateExpression": update,
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": serialize(
                {":revision": _new_revision(), ":id": {segment.segment_id}}
            ),
        }
    }


def _cancellation_reasons(items: list[TransactWriteItemTypeDef]) -> list[str]:
    """One TransactWriteItems: [] when it was made, else each item's cancellation reason (in order, "None"
    for an item that was not the cause)."""
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]
        return reasons + ["None"] * (len(items) - len(reasons))
    return []


def _seed_registry() -> None:
    """Create the registry from the list index, once (a concurrent seeder's registry is as good): for a
    table whose segments were all saved before the registry existed."""
    item: dict[str, Any] = {**keys.segment_registry_key(), "revision": _new_revision()}
    if ids := {segment.segment_id for segment in live_segments()}:
        item["segmentIds"] = ids
    try:
        dynamodb().put_item(
            TableName=_table(), Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def _update_if(**request: Any) -> bool:
    """One conditional UpdateItem on the main table; False when its condition did not hold."""
    try:
        dynamodb().update_item(TableName=_table(), **request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_segment(segment_id: str) -> Segment | None:
    item = get_item(_table(), keys.segment_key(segment_id), consistent=True)
    return Segment.model_validate(item) if item else None


def list_segments(*, limit: int, start_key: dict[str, Any] | None) -> tuple[list[Segment], Any]:
    """Live segments, most recently changed first: one Query on GSI1."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :list",
        "ExpressionAttributeValues": serialize({":list": keys.SEGMENT_LIST}),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    response = dynamodb().query(**request)
    segments = [Segment.model_validate(deserialize(item)) for item in response.get("Items", [])]
    return segments, response.get("LastEvaluatedKey")


@dataclass(frozen=True)
class Registry:
    """Which segments are live, and the revision of the definitions: a token every change replaces (not a
    count, so no registry seeded again or restored from a backup can repeat one an evaluator holds)."""

    revision: str
    segment_ids: frozenset[str]


def read_registry() -> Registry | None:
    """The registry as it is now (one consistent GetItem); None in a table whose segments were all saved
    before it existed (the first definition change seeds it)."""
    item = get_item(_table(), keys.segment_registry_key(), consistent=True)
    return _registry(item) if item is not None else None


def _registry(item: dict[str, Any]) -> Registry:
    return Registry(revision=str(item["revision"]), segment_ids=frozenset(item.get("segmentIds", ())))


def _new_revision() -> str:
    return uuid.uuid4().hex


def segments_by_id(segment_ids: Collection[str]) -> list[Segment]:
    """The definitions of these segments as they are now: consistent BatchGetItem, 100 a call."""
    items = batch_get(_table(), [keys.segment_key(segment_id) for segment_id in segment_ids])
    return [Segment.model_validate(item) for item in items]


def live_segments() -> list[Segment]:
    """Every live segment from the list index (all pages of the GSI1 list, eventually consistent): what
    seeds the registry, and what the evaluators read in a table that has none yet."""
    segments: list[Segment] = []
    start: dict[str, Any] | None = None
    while True:
        page, start = list_segments(limit=500, start_key=start)
        segments.extend(page)
        if not start:
            return segments


def save_backfill(segment_id: str, backfill: Backfill, *, expected_page: int | None) -> bool:
    """Record backfill progress. `expected_page`: only if the stored pass (same version) is still at that
    page; None: start a pass (replacing any older one). False when the condition did not hold."""
    values: dict[str, Any] = {":backfill": backfill.model_dump(by_alias=True, mode="json", exclude_none=True)}
    condition = "attribute_exists(pk)"
    if expected_page is not None:
        condition += " AND backfill.version = :version AND backfill.page = :page"
        values |= {":version": backfill.version, ":page": expected_page}
    return _update_if(
        Key=serialize(keys.segment_key(segment_id)),
        UpdateExpression="SET backfill = :backfill",
        ConditionExpression=condition,
        ExpressionAttributeValues=serialize(values),
    )


# --- members ---------------------------------------------------------------------------------------------
def member_ids_page(segment_id: str, *, limit: int, start: str | None) -> tuple[list[str], str | None]:
    """A page of member profile ids, in profile id order: one Query. `start`/next are opaque cursors."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :member)",
        "ExpressionAttributeValues": serialize(
            {":pk": keys.segment_key(segment_id)["pk"], ":member": keys.SEGMENT_MEMBER_PREFIX}
        ),
        "ProjectionExpression": "pk, sk, profileId",
        "Limit": limit,
    }
    if start_key := decode_cursor(start):
        request["ExclusiveStartKey"] = start_key
    response = dynamodb().query(**request)
    ids = [item["profileId"]["S"] for item in response.get("Items", [])]
    return ids, encode_cursor(response.get("LastEvaluatedKey"))


def is_member(segment_id: str, profile_id: str) -> bool:
    return get_item(_table(), keys.segment_member_key(segment_id, profile_id), consistent=True) is not None


def member_count(segment_id: str) -> int:
    """The exact number of members: the sum of the count shards (one Query)."""
    response = dynamodb().query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :count)",
        ExpressionAttributeValues=serialize(
            {":pk": keys.segment_key(segment_id)["pk"], ":count": keys.SEGMENT_COUNT_PREFIX}
        ),
        ConsistentRead=True,
    )
    return sum(int(item["members"]["N"]) for item in response.get("Items", []) if "members" in item)


@dataclass
class AudienceState:
    """What is stored about one person's audiences: the segments they are in (with the profile version
    each entry was made from) and when their segment timer is set for."""

    segments: dict[str, int] = field(default_factory=dict)
    timer_at: datetime | None = None


def audience_states(profile_ids: Collection[str], segment_ids: Collection[str]) -> dict[str, AudienceState]:
    """Each profile's memberships among `segment_ids` and its timer: consistent BatchGetItem, 100 keys a call
    (one call for a person and up to 99 segments)."""
    states, _ = _read_states(profile_ids, segment_ids, with_registry=False)
    return states


def audience_states_and_registry(
    profile_ids: Collection[str], segment_ids: Collection[str]
) -> tuple[dict[str, AudienceState], Registry | None]:
    """`audience_states`, with the registry read in the same consistent BatchGetItem (one call for a person
    and up to 98 segments): the evaluator learns whether its definitions are current without a call."""
    return _read_states(profile_ids, segment_ids, with_registry=True)


def _read_states(
    profile_ids: Collection[str], segment_ids: Collection[str], *, with_registry: bool
) -> tuple[dict[str, AudienceState], Registry | None]:
    wanted = [keys.segment_registry_key()] if with_registry else []
    wanted += [keys.segment_timer_key(pid) for pid in profile_ids]
    wanted += [keys.segment_member_key(sid, pid) for pid in profile_ids for sid in segment_ids]
    states = {pid: AudienceState() for pid in profile_ids}
    registry = None
    for item in batch_get(_table(), wanted):
        if item["pk"] == keys.segment_registry_key()["pk"]:
            registry = _registry(item)
            continue
        state = states[item["profileId"]]
        if item["sk"].startswith(keys.SEGMENT_MEMBER_PREFIX):
            state.segments[item["segmentId"]] = int(item.get("profileVersion", 0))
        elif item.get("at"):
            state.timer_at = datetime.fromisoformat(item["at"])
    return states, registry


class ConditionChanged(Exception):
    """The segment's condition changed (or it was archived) since the caller read it."""


def apply_change(
    change: SegmentChange,
    *,
    profile_version: int | None,
    check_version: bool = False,
    condition_version: int | None = None,
) -> bool:
    """Make one entry or exit, with its count, in one transaction. False: it was already made (or, with
    `check_version`, the profile is no longer at `profile_version`: its own stream record decides).
    `profile_version` None: the profile is gone (exits only). With `condition_version` (a backfill page,
    the only writer that names it, so the definition item is no hot spot): only while the segment is live
    with that condition, else ConditionChanged."""
    table = _table()
    member = keys.segment_member_key(change.segment_id, change.profile_id)
    shard = keys.segment_count_key(change.segment_id, keys.profile_shard(change.profile_id))
    actions: list[TransactWriteItemTypeDef] = []
    if change.entered:
        item = {
            **member,
            "segmentId": change.segment_id,
            "profileId": change.profile_id,
            "enteredAt": iso_utc(change.at),
            "profileVersion": profile_version or 0,
        }
        actions.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    else:
        actions.append(
            {
                "Delete": {
                    "TableName": table,
                    "Key": serialize(member),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
        )
    actions.append(
        {
            "Update": {
                "TableName": table,
                "Key": serialize(shard),
                "UpdateExpression": "ADD members :delta",
                "ExpressionAttributeValues": serialize({":delta": 1 if change.entered else -1}),
            }
        }
    )
    if check_version and profile_version is not None:
        actions.append(
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": serialize(keys.profile_key(change.profile_id)),
                    "ConditionExpression": "version = :version",
                    "ExpressionAttributeValues": serialize({":version": profile_version}),
                }
            }
        )
    if condition_version is not None:
        actions.append(_condition_check(change.segment_id, condition_version))
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=actions)
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]
        if condition_version is not None and reasons[-1:] == ["ConditionalCheckFailed"]:
            raise ConditionChanged(change.segment_id) from exc
        if set(reasons) <= {"ConditionalCheckFailed", "None"}:
            return False
        raise
    return True


def _condition_check(segment_id: str, condition_version: int) -> TransactWriteItemTypeDef:
    return {
        "ConditionCheck": {
            "TableName": _table(),
            "Key": serialize(keys.segment_key(segment_id)),
            "ConditionExpression": "conditionVersion = :condition AND archived = :false",
            "ExpressionAttributeValues": serialize({":condition": condition_version, ":false": False}),
        }
    }


# --- the person's one segment timer ----------------------------------------------------------------------
def record_timer(profile_id: str, at: datetime | None) -> None:
    """Remember when the person's segment timer is set for (None: no timer)."""
    item = {**keys.segment_timer_key(profile_id), "profileId": profile_id}
    if at is not None:
        item["at"] = iso_utc(at)
    dynamodb().put_item(TableName=_table(), Item=serialize(item))


# --- the people a backfill evaluates ---------------------------------------------------------------------
def known_profiles_page(*, cursor: str | None, limit: int) -> tuple[list[Profile], str | None]:
    """Up to `limit` live, known profiles from the score index (GSI1), shard after shard: one Query per
    shard touched (a short shard is followed by the next in the same page). The cursor is (shard, last
    key); None when every shard is done. No Scan."""
    state: dict[str, Any] = json.loads(cursor) if cursor else {"shard": 0, "key": None}
    shard, start = int(state["shard"]), state.get("key")
    profiles: list[Profile] = []
    while True:
        request: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": "GSI1",
            "KeyConditionExpression": "gsi1pk = :shard",
            "ExpressionAttributeValues": serialize({":shard": keys.score_index_partition(shard)}),
            "Limit": limit - len(profiles),
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = dynamodb().query(**request)
        profiles += [Profile.model_validate(deserialize(item)) for item in response.get("Items", [])]
        start = response.get("LastEvaluatedKey")
        if start:
            return profiles, json.dumps({"shard": shard, "key": start})
        shard += 1
        if shard == keys.PROFILE_INDEX_SHARDS:
            return profiles, None
        if len(profiles) >= limit:
            return profiles, json.dumps({"shard": shard, "key": None})

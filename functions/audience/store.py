"""Segments in the main table: definitions, one item per member, sharded member counts, backfill progress.

Every entry or exit is one TransactWriteItems: the member item (put only if absent, deleted only if
present) and +1/-1 on one count shard. A retried change fails its condition and changes nothing, so the
count is exact however often a change is repeated. docs/segments.md, docs/data-model.md.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from audience.segments import Backfill, Segment, SegmentChange
from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.pagination import decode_cursor, encode_cursor
from leadstream.profiles import Profile, iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


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
    definition's attributes only, so a running backfill's progress is never overwritten."""
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
    return _update_if(
        Key=serialize(keys.segment_key(segment.segment_id)),
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=serialize(values),
    )


def _update_if(**request: Any) -> bool:
    """One conditional UpdateItem on the main table; False when its condition did not hold."""
    from botocore.exceptions import ClientError

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


def live_segments() -> list[Segment]:
    """Every live segment (all pages of the GSI1 list; the evaluator caches them per container)."""
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
    wanted = [keys.segment_timer_key(pid) for pid in profile_ids]
    wanted += [keys.segment_member_key(sid, pid) for pid in profile_ids for sid in segment_ids]
    states = {pid: AudienceState() for pid in profile_ids}
    for item in batch_get(_table(), wanted):
        state = states[item["profileId"]]
        if item["sk"].startswith(keys.SEGMENT_MEMBER_PREFIX):
            state.segments[item["segmentId"]] = int(item.get("profileVersion", 0))
        elif item.get("at"):
            state.timer_at = datetime.fromisoformat(item["at"])
    return states


def apply_change(change: SegmentChange, *, profile_version: int | None, check_version: bool = False) -> bool:
    """Make one entry or exit, with its count, in one transaction. False: it was already made (or, with
    `check_version`, the profile is no longer at `profile_version`: its own stream record decides).
    `profile_version` None: the profile is gone (exits only)."""
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
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=actions)
    except client.exceptions.TransactionCanceledException as exc:
        reasons = {reason.get("Code") for reason in exc.response.get("CancellationReasons", [])}
        if reasons <= {"ConditionalCheckFailed", "None", None}:
            return False
        raise
    return True


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

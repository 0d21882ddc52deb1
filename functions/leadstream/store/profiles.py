"""Profiles, identities and merge records in the main table (docs/identity.md, docs/data-model.md)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadstream import consents, keys
from leadstream.aws import dynamodb
from leadstream.profiles import IdentityRef, IdentityWrite, MergeRecord, Profile, ProfileWrite, Touch, iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef

TRANSACTION_LIMIT = 100
# Cancellation reasons that mean "someone else wrote first": read again and re-apply.
LOST_RACE = frozenset({"ConditionalCheckFailed", "TransactionConflict", "ThrottlingError", "None"})
MAX_MERGE_HOPS = 8


# --- reads ---------------------------------------------------------------------------------------
def identity_owners(identities: Collection[IdentityRef]) -> dict[IdentityRef, str]:
    """The profile id of each identity that exists (one BatchGetItem per 100 identities)."""
    items = batch_get(
        get_settings().main_table, [keys.identity_key(ref.kind, ref.value) for ref in identities]
    )
    return {IdentityRef(kind=item["kind"], value=item["value"]): item["profileId"] for item in items}


def load_profiles(profile_ids: Collection[str]) -> dict[str, Profile]:
    """The stored profiles among `profile_ids` (one BatchGetItem per 100 profiles)."""
    items = batch_get(get_settings().main_table, [keys.profile_key(pid) for pid in profile_ids])
    return {item["profileId"]: Profile.model_validate(item) for item in items}


def get_profile(profile_id: str) -> Profile | None:
    item = get_item(get_settings().main_table, keys.profile_key(profile_id), consistent=True)
    return Profile.model_validate(item) if item else None


def profile_of(identity: IdentityRef) -> Profile | None:
    """The live profile of a person known by `identity` (follows `mergedInto` of absorbed profiles)."""
    item = get_item(get_settings().main_table, keys.identity_key(identity.kind, identity.value))
    profile = get_profile(item["profileId"]) if item else None
    for _ in range(MAX_MERGE_HOPS):
        if profile is None or profile.merged_into is None:
            break
        profile = get_profile(profile.merged_into)
    return profile


def merge_records(survivor_id: str) -> list[dict[str, Any]]:
    """The merges into a profile: which anonymous profiles it absorbed, when, and by which event."""
    response = dynamodb().query(
        TableName=get_settings().main_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :merge)",
        ExpressionAttributeValues=serialize(
            {":pk": keys.profile_key(survivor_id)["pk"], ":merge": keys.MERGE_SK_PREFIX}
        ),
    )
    return [deserialize(item) for item in response.get("Items", [])]


# --- items ---------------------------------------------------------------------------------------
def profile_item(profile: Profile) -> dict[str, Any]:
    """The stored profile, with its index entries (a listed profile: live, and known for the score list)."""
    live = profile.merged_into is None
    indexes = keys.profile_indexes(
        profile_id=profile.profile_id,
        score_key=profile.score.index_key if live and profile.is_known else None,
        stage=profile.stage.value if live and profile.stage is not None else None,
        stage_changed_at=profile.stage_changed_at,
    )
    return {**keys.profile_key(profile.profile_id), **indexes, **profile.to_item()}


def handoff_item(profile: Profile) -> dict[str, Any] | None:
    """The handoff record a profile's latest handoff decision starts (the steps after it fill it in)."""
    handoff = profile.score.handoff
    if handoff is None:
        return None
    return {
        **keys.handoff_key(profile.profile_id, handoff.number),
        "profileId": profile.profile_id,
        "number": handoff.number,
        "leadId": handoff.lead_id,
        "reason": handoff.reason,
        "at": handoff.at,
        **({"formId": handoff.form_id} if handoff.form_id else {}),
    }


def identity_item(write: IdentityWrite) -> dict[str, Any]:
    ref = write.identity
    return {
        **keys.identity_key(ref.kind, ref.value),
        "kind": ref.kind,
        "value": ref.value,
        "profileId": write.profile_id,
    }


def merge_item(merge: MergeRecord) -> dict[str, Any]:
    return {
        **keys.merge_key(merge.survivor_id, merge.absorbed_id),
        "survivorId": merge.survivor_id,
        "absorbedId": merge.absorbed_id,
        "at": iso_utc(merge.event.timestamp),
        "reason": merge.event.type,
        "sourceId": merge.event.source_id,
        "messageId": merge.event.message_id,
        "identities": [str(ref) for ref in merge.identities],
    }


# --- writes --------------------------------------------------------------------------------------
def write_profiles(writes: Sequence[ProfileWrite]) -> list[str]:
    """One TransactWriteItems per ProfileWrite; returns the profile ids whose write lost a race.

    Every put is conditioned: a profile on its expected `version` (or on not existing yet), a new identity
    on not existing, a moved identity on still pointing where we read it. A write with more than 100 items
    (a profile that gained that many identities in one batch) is split into several transactions: the
    first carries the profile and the identity it was founded on, each absorbed profile travels with its
    identities and merge record, so whatever part lands first, a retry converges on the same result.
    """
    client = dynamodb()
    table = get_settings().main_table
    lost = []
    for write in writes:
        for transaction in _transactions(write, table):
            try:
                client.transact_write_items(TransactItems=transaction)
            except client.exceptions.TransactionCanceledException as exc:
                reasons = {
                    reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])
                }
                if not reasons <= LOST_RACE:
                    raise
                lost.append(write.profile.profile_id)
                break
    return lost


def _transactions(write: ProfileWrite, table: str) -> Iterator[list[TransactWriteItemTypeDef]]:
    absorbed_identities = {ref for profile, _ in write.absorbed for ref in profile.identities}
    units: list[list[TransactWriteItemTypeDef]] = [
        [
            _put_profile(table, write.profile, write.expected_version),
            *_scoring_changes(table, write.profile, write.loaded.get(write.profile.profile_id)),
        ]
    ]
    units.extend(
        [_put_identity(table, claim)]
        for claim in write.identities
        if claim.identity not in absorbed_identities
    )
    for profile, expected in write.absorbed:
        units.append(
            [
                _put_profile(table, profile, expected),
                *_scoring_changes(table, profile, write.loaded.get(profile.profile_id)),
                *(
                    _put(table, merge_item(merge))
                    for merge in write.merges
                    if merge.absorbed_id == profile.profile_id
                ),
                *(
                    _put_identity(table, claim)
                    for claim in write.identities
                    if claim.identity in profile.identities
                ),
            ]
        )
    absorbed_ids = {profile.profile_id for profile, _ in write.absorbed}
    units.extend(
        [_put(table, merge_item(merge))] for merge in write.merges if merge.absorbed_id not in absorbed_ids
    )
    yield from _pack(units)


def _pack(units: list[list[TransactWriteItemTypeDef]]) -> Iterator[list[TransactWriteItemTypeDef]]:
    """Fill transactions in order, keeping each unit whole unless it alone exceeds the limit."""
    current: list[TransactWriteItemTypeDef] = []
    for unit in units:
        if current and len(current) + len(unit) > TRANSACTION_LIMIT:
            yield current
            current = []
        for action in unit:
            if len(current) == TRANSACTION_LIMIT:
                yield current
                current = []
            current.append(action)
    if current:
        yield current


def _put(
    table: str,
    item: dict[str, Any],
    condition: str | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> TransactWriteItemTypeDef:
    put: PutTypeDef = {"TableName": table, "Item": serialize(item)}
    if condition:
        put["ConditionExpression"] = condition
    if names:
        put["ExpressionAttributeNames"] = names
    if values:
        put["ExpressionAttributeValues"] = serialize(values)
    return {"Put": put}


def _scoring_changes(table: str, profile: Profile, loaded: Profile | None) -> list[TransactWriteItemTypeDef]:
    """What travels with a profile put: tag memberships added or removed, consent history, and a new
    handoff record.

    An absorbed profile leaves every tag list (its tags live on in the survivor's). A handoff record is
    created only with the decision that made it (attribute_not_exists), never overwritten.
    """
    listed = set(profile.tags) if profile.merged_into is None else set()
    before = set(loaded.tags) if loaded is not None and loaded.merged_into is None else set()
    changes: list[TransactWriteItemTypeDef] = [
        _put(table, {**keys.tag_key(tag, profile.profile_id), "profileId": profile.profile_id, "tag": tag})
        for tag in sorted(listed - before)
    ]
    changes += [
        {"Delete": {"TableName": table, "Key": serialize(keys.tag_key(tag, profile.profile_id))}}
        for tag in sorted(before - listed)
    ]
    # Each change of consent leaves its proof (a retried batch rewrites the same items).
    changes += [
        _put(table, consents.history_item(profile.profile_id, purpose, consent))
        for purpose, consent in consents.changes(loaded.consents if loaded else {}, profile.consents)
    ]
    handoff = profile.score.handoff
    previous = loaded.score.handoff if loaded is not None else None
    if handoff is not None and (previous is None or previous.number != handoff.number):
        record = handoff_item(profile)
        if record is not None:
            changes.append(_put(table, record, "attribute_not_exists(pk)"))
    return changes


def _put_profile(table: str, profile: Profile, expected_version: int) -> TransactWriteItemTypeDef:
    if expected_version == 0:
        return _put(table, profile_item(profile), "attribute_not_exists(pk)")
    return _put(
        table,
        profile_item(profile),
        "#version = :expected",
        {"#version": "version"},
        {":expected": expected_version},
    )


def _put_identity(table: str, write: IdentityWrite) -> TransactWriteItemTypeDef:
    if write.previous_owner is None:
        return _put(table, identity_item(write), "attribute_not_exists(pk)")
    return _put(
        table,
        identity_item(write),
        "#owner = :previous",
        {"#owner": "profileId"},
        {":previous": write.previous_owner},
    )


class DynamoProfileStore:
    """The ProfileStore scoring resolves batches against."""

    def identity_owners(self, identities: Collection[IdentityRef]) -> dict[IdentityRef, str]:
        return identity_owners(identities)

    def profiles(self, profile_ids: Collection[str]) -> dict[str, Profile]:
        return load_profiles(profile_ids)

    def write(self, writes: Sequence[ProfileWrite]) -> list[str]:
        return write_profiles(writes)


# --- writes outside the stream (lifecycle changes by people, handoff bookkeeping) ----------------------
def live_profile(profile_id: str) -> Profile | None:
    """A profile by id, following `mergedInto` to the live one."""
    profile = get_profile(profile_id)
    for _ in range(MAX_MERGE_HOPS):
        if profile is None or profile.merged_into is None:
            break
        profile = get_profile(profile.merged_into)
    return profile


def conditional_profile_put(profile: Profile, expected_version: int) -> TransactWriteItemTypeDef:
    """A transaction item that stores `profile` at `expected_version + 1`, if still at `expected_version`."""
    return _put_profile(
        get_settings().main_table,
        profile.model_copy(update={"version": expected_version + 1}),
        expected_version,
    )


def put_profile(profile: Profile, expected_version: int) -> bool:
    """Store a changed profile if nobody wrote it since `expected_version` was read (False: read again)."""
    return transact([conditional_profile_put(profile, expected_version)])


def transact(items: Sequence[TransactWriteItemTypeDef]) -> bool:
    """One TransactWriteItems; False when a condition failed or another transaction got in the way."""
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=list(items))
    except client.exceptions.TransactionCanceledException as exc:
        reasons = {reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])}
        if not reasons <= LOST_RACE:
            raise
        return False
    return True


# --- erasure (docs/customer-data.md, Erasure) ------------------------------------------------------------
def forget_profile(profile_id: str, at: datetime) -> bool:
    """Anonymise one profile: it keeps its id, version history, stage and its history, scores, tags,
    activity counts, first and last seen, `mergedInto`, and the campaign of its first and last touch; it
    loses its identities list, user id, email, traits, location and the pages and referrers of its
    touches. Sets `erasedAt`. False: no such profile. A repeat changes nothing."""
    for _ in range(MAX_MERGE_HOPS):
        profile = get_profile(profile_id)
        if profile is None:
            return False
        erased = anonymous_profile(profile, at)
        if erased == profile:
            return True
        if put_profile(erased, profile.version):
            return True
    raise RuntimeError(f"profile {profile_id} kept changing during its erasure")


def anonymous_profile(profile: Profile, at: datetime) -> Profile:
    def touch(value: Touch | None) -> Touch | None:
        if value is None:
            return None
        return value.model_copy(update={"term": None, "content": None, "referrer": None, "url": None})

    return profile.model_copy(
        update={
            "user_id": None,
            "user_id_stamp": None,
            "email": None,
            "email_stamp": None,
            "identities": [],
            "traits": {},
            "trait_stamps": {},
            "first_touch": touch(profile.first_touch),
            "last_touch": touch(profile.last_touch),
            "location": None,
            "erased_at": profile.erased_at or at,
        }
    )


def forget_identities(identities: Collection[IdentityRef], profile_ids: Collection[str]) -> int:
    """Delete these identity items, each only while it still points at one of `profile_ids` (an
    identity another person claimed since is theirs). Returns how many were looked at."""
    client = dynamodb()
    table = get_settings().main_table
    owners = sorted(profile_ids)
    if not owners:
        return len(identities)  # nobody's profile: whatever holds these identities is someone else's
    values = {f":p{index}": owner for index, owner in enumerate(owners)}
    condition = "attribute_not_exists(pk) OR profileId IN (" + ", ".join(values) + ")"
    for ref in identities:
        try:
            client.delete_item(
                TableName=table,
                Key=serialize(keys.identity_key(ref.kind, ref.value)),
                ConditionExpression=condition,
                ExpressionAttributeValues=serialize(values),
            )
        except client.exceptions.ConditionalCheckFailedException:
            continue
    return len(identities)


def forget_merges(survivor_id: str) -> int:
    """The merge records of a profile lose the identities that moved (when, why and which profile stay)."""
    client = dynamodb()
    table = get_settings().main_table
    records = merge_records(survivor_id)
    for record in records:
        if "identities" in record:
            client.update_item(
                TableName=table,
                Key=serialize({"pk": record["pk"], "sk": record["sk"]}),
                UpdateExpression="REMOVE identities",
            )
    return len(records)

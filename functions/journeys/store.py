"""Journeys in the main table: heads, immutable versions, step counters, enrollments, runs, claims.

Every write that a retry could repeat is conditional (docs/journeys.md, "Exactly once"):

- a version is put only if it does not exist and the head is still at the version it was based on;
- an enrollment moves from the entry count it read, with the run's first item, in one transaction;
- a run moves only from the `seq` (and status) it was read at, in the same transaction as the step
  counters that move counts, so a counter moves exactly when the run does;
- an owner notification is claimed before it is sent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from campaigns.conversions import journey_goal_writes
from journeys.models import (
    Enrollment,
    Journey,
    JourneyStatus,
    JourneyVersion,
    Reentry,
    Run,
    RunStatus,
    Trigger,
    parse_run_id,
)
from leadstream import clock, keys
from leadstream.aws import dynamodb, sqs
from leadstream.caches import TtlCache
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize
from leadstream.store.profiles import transact
from mail.config import get_email_settings

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef

    from campaigns.models import ConversionGoal
    from mail.sends import SendRequest

Counter = Literal["reached", "waiting", "exited"]
COUNTERS: tuple[Counter, ...] = ("reached", "waiting", "exited")


def _table() -> str:
    return get_settings().main_table


def _json(model: Any) -> Any:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


# --- journeys and versions ---------------------------------------------------------------------------------
def _version_put(version: JourneyVersion) -> TransactWriteItemTypeDef:
    item = {**keys.journey_version_key(version.journey_id, version.version), **_json(version)}
    return {
        "Put": {
            "TableName": _table(),
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def create(journey: Journey, version: JourneyVersion) -> bool:
    """Store a new journey: its head and version 1 (False: the id is taken)."""
    head = {
        **keys.journey_key(journey.journey_id),
        **_json(journey),
        **keys.journey_list_index(iso_utc(journey.updated_at), journey.journey_id),
    }
    put_head: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": _table(),
            "Item": serialize(head),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    return transact([put_head, _version_put(version)])


def add_version(version: JourneyVersion, *, name: str) -> bool:
    """Store version n and make it the head's latest, only if the head is still at n-1 and not archived."""
    at = iso_utc(version.created_at)
    head_update: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": _table(),
            "Key": serialize(keys.journey_key(version.journey_id)),
            "UpdateExpression": "SET latestVersion = :n, #name = :name, updatedAt = :at, updatedBy = :by, "
            "gsi1sk = :sort",
            "ConditionExpression": "latestVersion = :previous AND #status <> :archived",
            "ExpressionAttributeNames": {"#name": "name", "#status": "status"},
            "ExpressionAttributeValues": serialize(
                {
                    ":n": version.version,
                    ":previous": version.version - 1,
                    ":name": name,
                    ":at": at,
                    ":by": version.created_by,
                    ":sort": keys.journey_list_index(at, version.journey_id)["gsi1sk"],
                    ":archived": JourneyStatus.ARCHIVED.value,
                }
            ),
        }
    }
    return transact([head_update, _version_put(version)])


def get_journey(journey_id: str) -> Journey | None:
    item = get_item(_table(), keys.journey_key(journey_id), consistent=True)
    return Journey.model_validate(item) if item else None


# Published versions never change again, so a container keeps them (per table: the local stack's functions
# share this module); an unpublished one is read each time, its pins are still to come.
_published_versions: TtlCache[tuple[str, str, int], JourneyVersion | None] = TtlCache(now=clock.now)


def get_version(journey_id: str, version: int) -> JourneyVersion | None:
    """A saved version (a published one from this container's cache)."""
    key = (_table(), journey_id, version)
    found = _published_versions.get(key, lambda: _read_version(journey_id, version), max_age=math.inf)
    if found is None or found.pins is None:
        _published_versions.discard(key)
    return found


def _read_version(journey_id: str, version: int) -> JourneyVersion | None:
    item = get_item(_table(), keys.journey_version_key(journey_id, version), consistent=True)
    return JourneyVersion.model_validate(item) if item else None


def list_journeys(*, limit: int, start_key: dict[str, Any] | None) -> tuple[list[Journey], Any]:
    """Journeys that are not archived, most recently changed first: one Query on GSI1."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :list",
        "ExpressionAttributeValues": serialize({":list": keys.JOURNEY_LIST}),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    response = dynamodb().query(**request)
    journeys = [Journey.model_validate(deserialize(item)) for item in response.get("Items", [])]
    return journeys, response.get("LastEvaluatedKey")


def publish(
    journey_id: str,
    version: int,
    *,
    pins: dict[str, int],
    trigger: Trigger,
    reentry: Reentry,
    conversion: ConversionGoal | None,
    at: datetime,
    user: str,
    latest_version: int | None = None,
) -> bool:
    """Make `version` live (False: the journey was archived meanwhile, or with `latest_version` its latest
    version is another). A version's pins are set by its first publication and kept by every later one.
    In the same transaction the version's conversion goal is published, or (a version without one) the
    journey's goal is retired."""
    stamp = iso_utc(at)
    condition = "#status <> :archived AND latestVersion >= :v"
    latest = {":latest": latest_version} if latest_version is not None else {}
    if latest:
        condition += " AND latestVersion = :latest"
    live = keys.live_journey_index(journey_id)
    head: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": _table(),
            "Key": serialize(keys.journey_key(journey_id)),
            "UpdateExpression": "SET #status = :live, liveVersion = :v, liveTrigger = :trigger, "
            "liveReentry = :reentry, updatedAt = :at, updatedBy = :by, gsi3pk = :gsi3pk, gsi3sk = :gsi3sk",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": serialize(
                {
                    **latest,
                    ":live": JourneyStatus.LIVE.value,
                    ":archived": JourneyStatus.ARCHIVED.value,
                    ":v": version,
                    ":trigger": _json(trigger),
                    ":reentry": _json(reentry),
                    ":at": stamp,
                    ":by": user,
                    ":gsi3pk": live["gsi3pk"],
                    ":gsi3sk": live["gsi3sk"],
                }
            ),
        }
    }
    pin: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": _table(),
            "Key": serialize(keys.journey_version_key(journey_id, version)),
            "UpdateExpression": "SET pins = if_not_exists(pins, :pins)",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":pins": {"M": serialize(pins)}},
        }
    }
    return transact([head, pin, *journey_goal_writes(journey_id, conversion, at)])


def set_status(
    journey_id: str,
    status: Literal[JourneyStatus.PAUSED, JourneyStatus.ARCHIVED],
    *,
    at: datetime,
    user: str,
    expected_version: int | None = None,
) -> bool:
    """Pause a live journey, or archive one: out of the live index (and when archived out of the list,
    with its conversion goal retired in the same transaction). With `expected_version` (always given to
    archive) only while that is the latest version. False when the condition no longer holds."""
    values: dict[str, Any] = {":status": status.value, ":at": iso_utc(at), ":by": user}
    remove = "gsi3pk, gsi3sk"
    if status is JourneyStatus.PAUSED:
        condition = "#status = :live"
        values[":live"] = JourneyStatus.LIVE.value
    else:
        condition = "#status <> :status"
        remove += ", gsi1pk, gsi1sk"
    if expected_version is not None:
        condition += " AND latestVersion = :expected"
        values[":expected"] = expected_version
    update: UpdateTypeDef = {
        "TableName": _table(),
        "Key": serialize(keys.journey_key(journey_id)),
        "UpdateExpression": f"SET #status = :status, updatedAt = :at, updatedBy = :by REMOVE {remove}",
        "ConditionExpression": f"attribute_exists(pk) AND {condition}",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": serialize(values),
    }
    if status is JourneyStatus.ARCHIVED and (retire := journey_goal_writes(journey_id, None, at)):
        return transact([{"Update": update}, *retire])
    try:
        dynamodb().update_item(**update)
    except dynamodb().exceptions.ConditionalCheckFailedException:
        return False
    return True


def live_journeys() -> list[Journey]:
    """Every live journey with its trigger: one Query of the sparse live index (a page per 1 MB)."""
    journeys: list[Journey] = []
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "GSI3",
        "KeyConditionExpression": "gsi3pk = :live",
        "ExpressionAttributeValues": serialize({":live": keys.LIVE_JOURNEYS}),
    }
    while True:
        response = dynamodb().query(**request)
        journeys.extend(Journey.model_validate(deserialize(item)) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return journeys
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


# --- step counters ---------------------------------------------------------------------------------------
def _count(
    journey_id: str, step_id: str, profile_id: str, changes: dict[Counter, int]
) -> TransactWriteItemTypeDef:
    key = keys.journey_stats_key(journey_id, step_id, keys.profile_shard(profile_id))
    names = {f"#{name}": name for name in changes}
    values = {f":{name}": delta for name, delta in changes.items()}
    return {
        "Update": {
            "TableName": _table(),
            "Key": serialize(key),
            "UpdateExpression": "SET stepId = :step ADD " + ", ".join(f"#{name} :{name}" for name in changes),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize({**values, ":step": step_id}),
        }
    }


def step_counts(journey_id: str) -> dict[str, dict[str, int]]:
    """Per step: reached, waiting, exited, summed over the shards (one Query)."""
    totals: dict[str, dict[str, int]] = {}
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": serialize(
            {":pk": keys.journey_key(journey_id)["pk"], ":prefix": keys.JOURNEY_STATS_PREFIX}
        ),
    }
    while True:
        response = dynamodb().query(**request)
        for raw in response.get("Items", []):
            item = deserialize(raw)
            counts = totals.setdefault(str(item["stepId"]), dict.fromkeys(COUNTERS, 0))
            for name in COUNTERS:
                counts[name] += int(item.get(name, 0))
        if "LastEvaluatedKey" not in response:
            return totals
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


# --- enrollments and runs --------------------------------------------------------------------------------
def _run_item(run: Run) -> dict[str, Any]:
    item = {
        **keys.journey_run_key(run.journey_id, run.profile_id, run.entry),
        **_json(run),
        **keys.journey_run_list_index(run.journey_id, iso_utc(run.entered_at), run.run_id),
    }
    if run.status is RunStatus.WAITING and run.wait_event is not None:
        item |= keys.waiting_run_index(run.profile_id, run.run_id)
    return item


def get_enrollment(journey_id: str, profile_id: str) -> Enrollment | None:
    item = get_item(_table(), keys.enrollment_key(journey_id, profile_id), consistent=True)
    return Enrollment.model_validate(item) if item else None


def enroll(run: Run, previous: Enrollment | None, trigger_version: int | None) -> bool:
    """Begin `run` (entry n = previous entries + 1), only if nobody else began one since `previous` was
    read and no run is in progress; with its first step counted as reached. False: refused."""
    values: dict[str, Any] = {
        ":n": run.entry,
        ":run": run.run_id,
        ":at": iso_utc(run.entered_at),
    }
    sets = "entries = :n, activeRun = :run, lastEnteredAt = :at"
    if trigger_version is not None:
        sets += ", triggerVersion = :tv"
        values[":tv"] = trigger_version
    if previous is None:
        condition = "attribute_not_exists(pk)"
    else:
        condition = "entries = :previous AND attribute_not_exists(activeRun)"
        values[":previous"] = previous.entries
    items: list[TransactWriteItemTypeDef] = [
        {
            "Update": {
                "TableName": _table(),
                "Key": serialize(keys.enrollment_key(run.journey_id, run.profile_id)),
                "UpdateExpression": f"SET {sets}",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": serialize(values),
            }
        },
        {
            "Put": {
                "TableName": _table(),
                "Item": serialize(_run_item(run)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        _count(run.journey_id, run.step_id, run.profile_id, {"reached": 1}),
    ]
    return transact(items)


def get_run(run_id: str) -> Run | None:
    journey_id, profile_id, entry = parse_run_id(run_id)
    item = get_item(_table(), keys.journey_run_key(journey_id, profile_id, entry), consistent=True)
    return Run.model_validate(item) if item else None


def move(run: Run, new: Run, *, counts: Sequence[tuple[str, Counter, int]]) -> bool:
    """Write `new` in place of `run`, only if the stored run is still at `run.seq` and `run.status`, with
    the counter changes (step, counter, delta) and, when `new` exits, the enrollment's release, all in one
    transaction. False: another delivery moved the run first."""
    items: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": _table(),
                "Item": serialize(_run_item(new)),
                "ConditionExpression": "seq = :seq AND #status = :status",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": serialize({":seq": run.seq, ":status": run.status.value}),
            }
        }
    ]
    per_step: dict[str, dict[Counter, int]] = {}
    for step_id, counter, delta in counts:
        changes = per_step.setdefault(step_id, {})
        changes[counter] = changes.get(counter, 0) + delta
    items += [
        _count(run.journey_id, step_id, run.profile_id, changes) for step_id, changes in per_step.items()
    ]
    if new.status is RunStatus.EXITED and run.status is not RunStatus.EXITED:
        items.append(
            {
                "Update": {
                    "TableName": _table(),
                    "Key": serialize(keys.enrollment_key(run.journey_id, run.profile_id)),
                    "UpdateExpression": "SET lastExitedAt = :at REMOVE activeRun",
                    "ConditionExpression": "activeRun = :run",
                    "ExpressionAttributeValues": serialize(
                        {":at": iso_utc(new.exited_at or new.updated_at), ":run": run.run_id}
                    ),
                }
            }
        )
    return transact(items)


def runs_of(
    journey_id: str, profile_id: str, *, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Run], Any]:
    """One person's runs of a journey, newest first: one Query of their partition."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": serialize(
            {":pk": keys.journey_person_partition(journey_id, profile_id), ":prefix": keys.JOURNEY_RUN_PREFIX}
        ),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    return _runs_page(request, start_key)


def list_runs(journey_id: str, *, limit: int, start_key: dict[str, Any] | None) -> tuple[list[Run], Any]:
    """Every run of a journey, newest first: one Query on GSI1."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": serialize(
            {":pk": keys.journey_run_list_index(journey_id, "", "")["gsi1pk"]}
        ),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    return _runs_page(request, start_key)


def _runs_page(request: dict[str, Any], start_key: dict[str, Any] | None) -> tuple[list[Run], Any]:
    if start_key:
        request["ExclusiveStartKey"] = start_key
    response = dynamodb().query(**request)
    runs = [Run.model_validate(deserialize(item)) for item in response.get("Items", [])]
    return runs, response.get("LastEvaluatedKey")


def runs_waiting_for_events(profile_id: str) -> list[Run]:
    """The runs waiting for something this person may do: one Query of the waiting index."""
    runs: list[Run] = []
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "GSI2",
        "KeyConditionExpression": "gsi2pk = :pk",
        "ExpressionAttributeValues": serialize({":pk": keys.waiting_run_index(profile_id, "")["gsi2pk"]}),
    }
    while True:
        response = dynamodb().query(**request)
        runs.extend(Run.model_validate(deserialize(item)) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return runs
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


# --- side effects ------------------------------------------------------------------------------------------
def claim_notification(run: Run, *, owner: str, at: datetime) -> bool:
    """Claim the owner notification of the run's current step (False: claimed before, by any delivery)."""
    item = {
        **keys.journey_notify_key(run.journey_id, run.profile_id, run.entry, run.seq),
        "runId": run.run_id,
        "stepId": run.step_id,
        "owner": owner,
        "claimedAt": iso_utc(at),
    }
    try:
        dynamodb().put_item(
            TableName=_table(), Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
        )
    except dynamodb().exceptions.ConditionalCheckFailedException:
        return False
    return True


def record_notification(run: Run, *, message_id: str | None, error: str | None = None) -> None:
    """After the call: SES's message id, or (a sure failure) the error, on the claim."""
    values = {":id": message_id} if message_id else {":error": error or "failed"}
    expression = "SET sesMessageId = :id" if message_id else "SET #error = :error"
    request: dict[str, Any] = {
        "TableName": _table(),
        "Key": serialize(keys.journey_notify_key(run.journey_id, run.profile_id, run.entry, run.seq)),
        "UpdateExpression": expression,
        "ExpressionAttributeValues": serialize(values),
    }
    if not message_id:
        request["ExpressionAttributeNames"] = {"#error": "error"}
    dynamodb().update_item(**request)


def enqueue_send(request: SendRequest) -> None:
    """Put one send request on the email send queue (its message id makes a repeat harmless)."""
    sqs().send_message(
        QueueUrl=get_email_settings().require_send_queue_url(),
        MessageBody=request.model_dump_json(by_alias=True, exclude_none=True),
    )

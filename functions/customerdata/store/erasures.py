"""Erasure jobs in the main table (docs/customer-data.md, Erasure; docs/data-model.md).

- the job `ERASURE#<id>` / `ERASURE`: status, the receipt (`receipt` maps `<store>.<what>` to a count,
  `finished` maps a store to when its step ended), and while it runs the request and the person's
  identifiers it found (`asked`, `subject`), which the finish removes;
- one item per page of a step, `STEP#<step>#<page>`: while pending it holds the page's targets (the keys
  the step works on), and once done only its counts. Its counts reach the receipt in the same transaction
  that marks it done (condition: still pending), so a redelivered page adds nothing;
- the person's markers `ERASED#<salted hash>` (their profile id, their addresses, the caller's
  Idempotency-Key): the same person asked for again finds their erasure. No marker holds the identifier.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leadstream import keys
from leadstream.aws import dynamodb, sqs
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize
from leadstream.store.profiles import transact

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef


def _table() -> str:
    return get_settings().main_table


class EnqueueFailed(RuntimeError):
    """SQS refused the message: the step that sends it fails and runs again (its work is idempotent)."""


def enqueue(queue_url: str, message: Mapping[str, Any]) -> None:
    response = sqs().send_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": "0", "MessageBody": json.dumps(dict(message))}]
    )
    if response.get("Failed"):
        raise EnqueueFailed("the erasure message was not queued")


# --- the job -------------------------------------------------------------------------------------------
def create(job: Mapping[str, Any], markers: Sequence[str], replaced_markers: Sequence[str]) -> bool:
    """The job with its markers, in one transaction. False: a marker of `markers` is taken (the person's
    erasure exists). `replaced_markers` point at this job whatever they pointed at before."""
    table = _table()
    erasure_id = str(job["erasureId"])
    items: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": table,
                "Item": serialize(
                    {
                        **keys.erasure_key(erasure_id),
                        **keys.erasure_list_index(str(job["createdAt"]), erasure_id),
                        **job,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    for marker in markers:
        items.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": serialize({**keys.erased_subject_key(marker), "erasureId": erasure_id}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    for marker in replaced_markers:
        if marker not in markers:
            items.append(
                {
                    "Put": {
                        "TableName": table,
                        "Item": serialize({**keys.erased_subject_key(marker), "erasureId": erasure_id}),
                    }
                }
            )
    return transact(items)


def marker(subject_hash: str) -> str | None:
    """The erasure a marker points at."""
    item = get_item(_table(), keys.erased_subject_key(subject_hash), consistent=True)
    return str(item["erasureId"]) if item else None


def get(erasure_id: str) -> dict[str, Any] | None:
    return get_item(_table(), keys.erasure_key(erasure_id), consistent=True)


def latest(limit: int) -> list[dict[str, Any]]:
    response = dynamodb().query(
        TableName=_table(),
        IndexName="GSI1",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": "ERASURES"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [deserialize(item) for item in response.get("Items", [])]


def _update(erasure_id: str, expression: str, condition: str, values: Mapping[str, Any]) -> bool:
    client = dynamodb()
    try:
        client.update_item(
            TableName=_table(),
            Key=serialize(keys.erasure_key(erasure_id)),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize(dict(values)),
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def start(erasure_id: str, subject: Mapping[str, Any], at: str) -> bool:
    """queued → running with the person's identifiers (False: planned before; its subject stands)."""
    return _update(
        erasure_id,
        "SET #status = :running, subject = :subject, startedAt = :at",
        "#status = :queued",
        {":running": "running", ":queued": "queued", ":subject": dict(subject), ":at": at},
    )


def finish(erasure_id: str, at: str) -> bool:
    """running → done; the request and the identifiers go (the receipt stays)."""
    return _update(
        erasure_id,
        "SET #status = :done, finishedAt = :at REMOVE subject, asked",
        "#status = :running",
        {":done": "done", ":running": "running", ":at": at},
    )


# --- pages of steps ------------------------------------------------------------------------------------
def page(erasure_id: str, step: str, number: int) -> dict[str, Any] | None:
    return get_item(_table(), keys.erasure_step_key(erasure_id, step, number), consistent=True)


def plan_page(erasure_id: str, step: str, number: int, targets: Sequence[str]) -> dict[str, Any]:
    """Remember a page's targets before working on them; if another delivery planned the page first,
    its plan is the one (returned)."""
    item = {
        **keys.erasure_step_key(erasure_id, step, number),
        "status": "pending",
        "targets": list(targets),
    }
    client = dynamodb()
    try:
        client.put_item(
            TableName=_table(), Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
        )
    except client.exceptions.ConditionalCheckFailedException:
        existing = page(erasure_id, step, number)
        assert existing is not None
        return existing
    return item


def mark_continued(erasure_id: str, step: str, number: int) -> None:
    """The message after this page was sent (a redelivery of the page sends none)."""
    dynamodb().update_item(
        TableName=_table(),
        Key=serialize(keys.erasure_step_key(erasure_id, step, number)),
        UpdateExpression="SET continued = :yes",
        ExpressionAttributeValues={":yes": {"BOOL": True}},
    )


def commit_page(
    erasure_id: str,
    step: str,
    number: int,
    *,
    store: str,
    counts: Mapping[str, int],
    more: bool,
    at: str,
) -> bool:
    """Mark a page done (its targets go) and add its counts to the receipt, once (False: done before)."""
    table = _table()
    names: dict[str, str] = {}
    values: dict[str, Any] = {":at": at}
    adds = []
    for index, (what, count) in enumerate(sorted(counts.items())):
        names[f"#c{index}"] = f"{store}.{what}"
        values[f":c{index}"] = int(count)
        adds.append(f"receipt.#c{index} :c{index}")
    sets = ["updatedAt = :at"]
    if not more:
        names["#store"] = store
        sets.append("finished.#store = :at")
    update = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
    job_update: UpdateTypeDef = {
        "TableName": table,
        "Key": serialize(keys.erasure_key(erasure_id)),
        "UpdateExpression": update,
        "ConditionExpression": "#status = :running",
        "ExpressionAttributeNames": {**names, "#status": "status"},
        "ExpressionAttributeValues": serialize({**values, ":running": "running"}),
    }
    return transact(
        [
            {
                "Update": {
                    "TableName": table,
                    "Key": serialize(keys.erasure_step_key(erasure_id, step, number)),
                    "UpdateExpression": "SET #status = :done, counts = :counts, more = :more, #at = :at "
                    "REMOVE targets",
                    "ConditionExpression": "#status = :pending",
                    "ExpressionAttributeNames": {"#status": "status", "#at": "at"},
                    "ExpressionAttributeValues": serialize(
                        {
                            ":done": "done",
                            ":pending": "pending",
                            ":counts": dict(counts),
                            ":more": more,
                            ":at": at,
                        }
                    ),
                }
            },
            {"Update": job_update},
        ]
    )

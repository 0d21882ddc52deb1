"""Import jobs in the main table: the job item, and one result item per chunk.

A chunk's counts reach the job exactly once: the chunk's result item is put (`attribute_not_exists`) in
the same transaction that adds its counts to the job, so a redelivered chunk finds its result there and
adds nothing.
"""

from __future__ import annotations

from typing import Any

from customerdata.imports import ImportCounts, ImportJob
from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize
from leadstream.store.profiles import transact

_COUNTS = tuple(ImportCounts.model_fields)


def _table() -> str:
    return get_settings().main_table


def _to_job(item: dict[str, Any]) -> ImportJob:
    return ImportJob.model_validate(item)


def create_job(job: ImportJob) -> None:
    item = {
        **keys.import_key(job.import_id),
        **keys.import_list_index(job.created_at, job.import_id),
        **job.model_dump(by_alias=True, exclude_none=True),
    }
    dynamodb().put_item(
        TableName=_table(), Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
    )


def get_job(import_id: str) -> ImportJob | None:
    item = get_item(_table(), keys.import_key(import_id), consistent=True)
    return _to_job(item) if item else None


def _update(import_id: str, sets: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
    names = {f"#s{i}": name for i, name in enumerate(sets)}
    expression = "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets)))
    attribute_values = {f":s{i}": value for i, value in enumerate(sets.values())} | values
    client = dynamodb()
    try:
        client.update_item(
            TableName=_table(),
            Key=serialize(keys.import_key(import_id)),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={**names, "#status": "status"},
            ExpressionAttributeValues=serialize(attribute_values),
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def mark_queued(import_id: str, *, encoding: str, columns: dict[str, str | None] | None, at: str) -> bool:
    """awaiting-upload → queued, once (False: it was started already)."""
    sets: dict[str, Any] = {"status": "queued", "encoding": encoding, "startedAt": at}
    if columns is not None:
        sets["columns"] = columns
    return _update(import_id, sets, "#status = :from", {":from": "awaiting-upload"})


def mark_running(import_id: str, *, chunks: int, total_rows: int) -> bool:
    """queued → running with the split's totals (a re-run split of a running job sets the same totals)."""
    return _update(
        import_id,
        {"status": "running", "chunks": chunks, "totalRows": total_rows},
        "#status IN (:queued, :running)",
        {":queued": "queued", ":running": "running"},
    )


def mark_failed(import_id: str, error: str, at: str) -> bool:
    return _update(
        import_id,
        {"status": "failed", "error": error, "finishedAt": at},
        "#status IN (:queued, :running)",
        {":queued": "queued", ":running": "running"},
    )


def mark_done(import_id: str, at: str) -> bool:
    return _update(
        import_id,
        {"status": "done", "finishedAt": at},
        "#status = :running AND chunksDone = chunks",
        {":running": "running"},
    )


def chunk_done(import_id: str, number: int) -> bool:
    return get_item(_table(), keys.import_chunk_key(import_id, number), consistent=True) is not None


def commit_chunk(import_id: str, number: int, counts: ImportCounts, at: str) -> bool:
    """Add a chunk's counts to its job, once (False: that chunk was committed before)."""
    table = _table()
    adds = ", ".join(f"counts.#{name} :{name}" for name in _COUNTS)
    return transact(
        [
            {
                "Put": {
                    "TableName": table,
                    "Item": serialize(
                        {
                            **keys.import_chunk_key(import_id, number),
                            "counts": counts.model_dump(),
                            "at": at,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": serialize(keys.import_key(import_id)),
                    "UpdateExpression": f"ADD {adds}, chunksDone :one",
                    "ConditionExpression": "#status = :running",
                    "ExpressionAttributeNames": {"#status": "status"}
                    | {f"#{name}": name for name in _COUNTS},
                    "ExpressionAttributeValues": serialize(
                        {":running": "running", ":one": 1}
                        | {f":{name}": getattr(counts, name) for name in _COUNTS}
                    ),
                }
            },
        ]
    )


def list_jobs(limit: int) -> list[ImportJob]:
    response = dynamodb().query(
        TableName=_table(),
        IndexName="GSI1",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": "IMPORTS"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_to_job(deserialize(item)) for item in response.get("Items", [])]

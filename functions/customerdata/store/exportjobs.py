"""Export jobs in the main table: one item per export, its progress checkpointed with each uploaded part.

Every step is a conditional update: the upload id is set once, a checkpoint moves `parts` from the number
the step read to the next (so two runs of one step never both advance it), and the end is set once.
"""

from __future__ import annotations

from typing import Any

from customerdata.exports import ExportJob
from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize


def _table() -> str:
    return get_settings().main_table


def create_job(job: ExportJob) -> bool:
    """False when an export with this id exists (one Idempotency-Key, two concurrent tries)."""
    item = {
        **keys.export_key(job.export_id),
        **keys.export_list_index(job.created_at, job.export_id),
        **job.model_dump(by_alias=True, exclude_none=True),
    }
    client = dynamodb()
    try:
        client.put_item(
            TableName=_table(), Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def get_job(export_id: str) -> ExportJob | None:
    item = get_item(_table(), keys.export_key(export_id), consistent=True)
    return ExportJob.model_validate(item) if item else None


def list_jobs(source: str, limit: int) -> list[ExportJob]:
    """The latest exports of one source, newest first (one Query of the list index; a page of 4x the
    limit is read so that the other source's exports do not crowd them out)."""
    response = dynamodb().query(
        TableName=_table(),
        IndexName="GSI1",
        KeyConditionExpression="gsi1pk = :p",
        FilterExpression="#source = :source",
        ExpressionAttributeNames={"#source": "source"},
        ExpressionAttributeValues=serialize({":p": "EXPORTS", ":source": source}),
        ScanIndexForward=False,
        Limit=limit * 4,
    )
    return [ExportJob.model_validate(deserialize(item)) for item in response.get("Items", [])][:limit]


def _update(export_id: str, sets: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
    names = {f"#s{i}": name for i, name in enumerate(sets)}
    expression = "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets)))
    client = dynamodb()
    try:
        client.update_item(
            TableName=_table(),
            Key=serialize(keys.export_key(export_id)),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names
            | {"#status": "status"}
            | ({"#parts": "parts"} if "#parts" in condition else {}),
            ExpressionAttributeValues=serialize(
                {f":s{i}": value for i, value in enumerate(sets.values())} | values
            ),
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def set_upload(export_id: str, upload_id: str, at: str) -> bool:
    """queued → running with its multipart upload, once (False: an earlier run set one)."""
    return _update(
        export_id,
        {"status": "running", "uploadId": upload_id, "startedAt": at},
        "#status = :queued AND attribute_not_exists(uploadId) AND #parts = :zero",
        {":queued": "queued", ":zero": 0},
    )


def checkpoint(
    export_id: str, *, parts_before: int, rows: int, size: int, cursor: str | None, pages_read: bool
) -> bool:
    """One more part uploaded: its totals and where the next page starts. False when another run of the
    step checkpointed this part first (or the export ended): this run stops."""
    sets: dict[str, Any] = {"parts": parts_before + 1, "rows": rows, "bytes": size, "pagesRead": pages_read}
    if cursor is not None:
        sets["cursor"] = cursor
    return _update(
        export_id,
        sets,
        "#status = :running AND #parts = :before",
        {":running": "running", ":before": parts_before},
    )


def mark_done(export_id: str, at: str) -> bool:
    return _update(
        export_id,
        {"status": "done", "finishedAt": at},
        "#status = :running AND pagesRead = :true",
        {":running": "running", ":true": True},
    )


def mark_failed(export_id: str, error: str, at: str) -> bool:
    return _update(
        export_id,
        {"status": "failed", "error": error, "finishedAt": at},
        "#status IN (:queued, :running)",
        {":queued": "queued", ":running": "running"},
    )

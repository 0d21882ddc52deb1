"""Lake rows to Kinesis Data Firehose: PutRecordBatch, one JSON line per row. Firehose buffers, converts
to Parquet against the Glue table and writes the day's partition; our code only hands rows over.

A call takes at most 500 records and 4 MiB; records Firehose refuses (`FailedPutCount`, throttling) are
sent again, a few times with backoff. What still fails is returned, so the caller can report its stream
records as failed and the stream delivers them again: the rows' stable ids make the repeat harmless.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from leadstream import aws

MAX_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024
ATTEMPTS = 4


def encode(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


def _batches(records: Sequence[tuple[int, bytes]]) -> list[list[tuple[int, bytes]]]:
    batches: list[list[tuple[int, bytes]]] = []
    current: list[tuple[int, bytes]] = []
    size = 0
    for record in records:
        if current and (len(current) == MAX_RECORDS or size + len(record[1]) > MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(record)
        size += len(record[1])
    if current:
        batches.append(current)
    return batches


def put_rows(stream: str, rows: Sequence[dict[str, Any]]) -> set[int]:
    """Hand `rows` to the delivery stream; the indexes of the rows that could not be delivered."""
    pending = [(index, encode(row)) for index, row in enumerate(rows)]
    failed = {index for index, data in pending if len(data) > MAX_RECORD_BYTES}
    pending = [(index, data) for index, data in pending if index not in failed]
    client = aws.firehose()
    for attempt in range(ATTEMPTS):
        if not pending:
            break
        if attempt:
            time.sleep(min(0.1 * 2**attempt, 1.0))
        retry: list[tuple[int, bytes]] = []
        for batch in _batches(pending):
            answer = client.put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": data} for _, data in batch]
            )
            if answer.get("FailedPutCount", 0):
                for (index, data), result in zip(batch, answer["RequestResponses"], strict=True):
                    if result.get("ErrorCode"):
                        retry.append((index, data))
        pending = retry
    return failed | {index for index, _ in pending}

"""Lake rows to Kinesis Data Firehose: PutRecordBatch. Firehose buffers, de-aggregates, converts to
Parquet against the Glue table and writes each row to its day's partition; our code only hands rows over.

Firehose bills Direct PUT ingestion per record rounded up to 5 KB, and a row is about 450 bytes: one row
per record would pay for ten times its size. So rows go as JSON lines packed into records of up to
`MAX_ROWS_PER_RECORD` rows and `MAX_RECORD_BYTES` bytes, and the delivery streams de-aggregate them
(`RecordDeAggregation`, sub-record type JSON: one JSON object per line) before partitioning and
conversion. A call takes at most 500 records and 4 MiB; records Firehose refuses (`FailedPutCount`,
throttling) are sent again, a few times with backoff. The rows of what still fails are returned, so the
caller reports their stream records as failed and the stream delivers them again: the rows' stable ids
make the repeat harmless.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from leadstream import aws

MAX_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 64 * 1024  # well under Firehose's 1,000 KiB, so a refused record holds few rows
MAX_ROWS_PER_RECORD = 500  # Firehose de-aggregates at most 500 sub-records per record
ATTEMPTS = 4

Record = tuple[list[int], bytes]  # the indexes of the rows it holds, its data


def encode(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


def pack(rows: Sequence[dict[str, Any]]) -> tuple[list[Record], set[int]]:
    """Rows as records of JSON lines; the indexes of rows too large for any record."""
    records: list[Record] = []
    too_large: set[int] = set()
    indexes: list[int] = []
    data = bytearray()
    for index, row in enumerate(rows):
        line = encode(row)
        if len(line) > MAX_RECORD_BYTES:
            too_large.add(index)
            continue
        if indexes and (len(indexes) == MAX_ROWS_PER_RECORD or len(data) + len(line) > MAX_RECORD_BYTES):
            records.append((indexes, bytes(data)))
            indexes, data = [], bytearray()
        indexes.append(index)
        data += line
    if indexes:
        records.append((indexes, bytes(data)))
    return records, too_large


def _batches(records: Sequence[Record]) -> list[list[Record]]:
    batches: list[list[Record]] = []
    current: list[Record] = []
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
    pending, failed = pack(rows)
    client = aws.firehose()
    for attempt in range(ATTEMPTS):
        if not pending:
            break
        if attempt:
            time.sleep(min(0.1 * 2**attempt, 1.0))
        retry: list[Record] = []
        for batch in _batches(pending):
            answer = client.put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": data} for _, data in batch]
            )
            if answer.get("FailedPutCount", 0):
                for record, result in zip(batch, answer["RequestResponses"], strict=True):
                    if result.get("ErrorCode"):
                        retry.append(record)
        pending = retry
    return failed | {index for indexes, _ in pending for index in indexes}

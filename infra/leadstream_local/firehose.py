"""Kinesis Data Firehose, played locally: the part of a delivery stream that moto does not do.

The functions call the real Firehose API (`PutRecordBatch`) on the embedded moto, whose delivery streams
the stack creates from the template with an S3 destination under a staging prefix (`_firehose/<stream>/`):
moto writes each batch there as it came, JSON lines. This poller then does what Firehose does after
buffering, per staged object: it splits the records into rows (JSON lines: the streams' record
de-aggregation), reads each row's dynamic partition key (the template's
`MetadataExtractionQuery`, a jq object such as `{day: .day}`), converts the rows to Parquet with the
columns and types of the Glue table the stream's `SchemaConfiguration` names (DuckDB, Snappy), writes one
file per partition under the destination `Prefix` with `!{partitionKeyFromQuery:...}` filled in, and
deletes the staged object. Rows that cannot be converted go under the `ErrorOutputPrefix`, as Firehose
would put them.

Differences from AWS, on purpose: delivery is immediate (Firehose waits up to its buffer interval), so a
test sees the files at once; and jq queries are limited to `{key: .field, ...}`.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadstream_local.polling import POLL_INTERVAL, BackgroundPoller, log

STAGING_PREFIX = "_firehose/"
_JQ_FIELD = re.compile(r"^\s*\{\s*(.*?)\s*\}\s*$")


@dataclass(frozen=True)
class DeliveryStreamSpec:
    logical_id: str
    name: str
    bucket: str
    prefix: str  # with !{partitionKeyFromQuery:key} placeholders
    error_prefix: str
    partition_keys: dict[str, str]  # partition key -> row field
    columns: tuple[tuple[str, str], ...]  # Glue (name, type), in table order

    @property
    def staging_prefix(self) -> str:
        return f"{STAGING_PREFIX}{self.name}/"


def partition_fields(query: str) -> dict[str, str]:
    """`{day: .day, h: .hour}` -> {"day": "day", "h": "hour"}."""
    match = _JQ_FIELD.match(query)
    if not match:
        raise ValueError(f"unsupported MetadataExtractionQuery {query!r}")
    fields = {}
    for part in filter(None, (p.strip() for p in match.group(1).split(","))):
        key, _, source = part.partition(":")
        fields[key.strip()] = source.strip().removeprefix(".")
    return fields


DUCKDB_TYPE = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "bigint": "BIGINT",
    "date": "DATE",
    "double": "DOUBLE",
    "int": "INTEGER",
}


def duckdb_type(glue_type: str) -> str:
    if glue_type.startswith("decimal"):
        return glue_type.upper()
    return DUCKDB_TYPE[glue_type]


def to_parquet(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...], target: Path) -> None:
    """Write `rows` as one Parquet file with exactly `columns` (missing fields null, others dropped)."""
    import duckdb  # a development dependency: the local stack's, never a Lambda function's

    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "rows.jsonl"
        source.write_text("".join(json.dumps({c: row.get(c) for c, _ in columns}) + "\n" for row in rows))
        spec = ", ".join(f"'{name}': '{duckdb_type(kind)}'" for name, kind in columns)
        connection = duckdb.connect()
        try:
            connection.execute(
                f"COPY (SELECT * FROM read_json('{source}', format='newline_delimited', columns={{{spec}}})) "
                f"TO '{target}' (FORMAT parquet, COMPRESSION snappy)"
            )
        finally:
            connection.close()


class FirehoseDelivery(BackgroundPoller):
    """Moves what moto staged for each delivery stream to its Parquet destination."""

    def __init__(
        self, streams: list[DeliveryStreamSpec], *, s3_client: Any, poll_interval: float = POLL_INTERVAL
    ) -> None:
        super().__init__("firehose-delivery", poll_interval)
        self.streams = streams
        self._s3 = s3_client
        self.delivered_files = 0

    def poll_once(self) -> bool:
        with self._lock:
            moved = sum(self._deliver(stream) for stream in self.streams)
        if moved:
            self.activity += moved
            return False
        self.idle_cycle_started = time.monotonic()
        return True

    def _deliver(self, stream: DeliveryStreamSpec) -> int:
        listing = self._s3.list_objects_v2(Bucket=stream.bucket, Prefix=stream.staging_prefix)
        moved = 0
        for entry in listing.get("Contents", []):
            body = self._s3.get_object(Bucket=stream.bucket, Key=entry["Key"])["Body"].read()
            self.convert(stream, entry["Key"], body)
            self._s3.delete_object(Bucket=stream.bucket, Key=entry["Key"])
            moved += 1
        return moved

    def convert(self, stream: DeliveryStreamSpec, staged_key: str, body: bytes) -> None:
        groups: dict[str, list[dict[str, Any]]] = {}
        failed: list[str] = []
        for line in body.decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                prefix = stream.prefix
                for key, field in stream.partition_keys.items():
                    value = row[field]
                    if not isinstance(value, str) or not value or "/" in value:
                        raise ValueError(f"partition key {key} is {value!r}")
                    prefix = prefix.replace(f"!{{partitionKeyFromQuery:{key}}}", value)
            except (ValueError, KeyError, TypeError):
                failed.append(line)
                continue
            groups.setdefault(prefix, []).append(row)
        name = staged_key.rsplit("/", 1)[-1]
        with tempfile.TemporaryDirectory() as scratch:
            for prefix, rows in groups.items():
                target = Path(scratch) / "part.parquet"
                try:
                    to_parquet(rows, stream.columns, target)
                except Exception as exc:  # what Firehose cannot convert goes to its error prefix
                    log.warning("firehose %s: rows not convertible: %s", stream.name, exc)
                    failed.extend(json.dumps(row) for row in rows)
                    continue
                key = f"{prefix}{stream.name}-{name}.parquet"
                self._s3.put_object(Bucket=stream.bucket, Key=key, Body=target.read_bytes())
                self.delivered_files += 1
        if failed:
            error_prefix = re.sub(r"!\{[^}]*\}", "local", stream.error_prefix)
            self._s3.put_object(
                Bucket=stream.bucket, Key=f"{error_prefix}{name}", Body=("\n".join(failed) + "\n").encode()
            )

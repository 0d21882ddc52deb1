"""Reports on DuckDB, embedded: the local stack's stand-in for Athena, and the bench's engine.

The lake's Parquet files are read where Athena would read them: the objects under `<table>/day=.../` in
the lake bucket, only the days a query's range needs for `events` (partition pruning by listing), all of
`changes` (small: a few rows per person and record). DuckDB has no S3 reader here (its httpfs extension
is downloaded at run time), so each object is copied once to a local cache named by its ETag and read
from there; a changed object has a new ETag and is fetched again.

DuckDB is a development dependency: no Lambda function imports this module (lake.reports imports it
only when LAKE_QUERY_ENGINE is duckdb), which keeps a ~60 MB wheel out of every deployed function.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from lake.schema import EVENTS, PARTITION, TABLES, LakeTable
from leadstream import aws

CACHE_DIR = Path(tempfile.gettempdir()) / "leadstream-lake-cache"


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _empty_view(table: LakeTable) -> str:
    columns = ", ".join(f"CAST(NULL AS {type_}) AS {name}" for name, type_ in table.duckdb_columns().items())
    return f"SELECT {columns} LIMIT 0"


def _files_view(paths: Sequence[str]) -> str:
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in paths)
    hive = f"hive_partitioning = true, hive_types = {{'{PARTITION}': VARCHAR}}"
    return f"SELECT * FROM read_parquet([{listed}], {hive})"


def query(
    files: Mapping[str, Sequence[str]], sql: str, *, threads: int | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` with views lake_events and lake_changes over the given local Parquet files."""
    connection = duckdb.connect(config={"threads": threads} if threads else {})
    try:
        for table in TABLES:
            paths = files.get(table.name, [])
            body = _files_view(paths) if paths else _empty_view(table)
            connection.execute(f"CREATE VIEW lake_{table.name} AS {body}")
        cursor = connection.execute(sql)
        names = [column[0] for column in cursor.description or []]
        return names, [tuple(_cell(value) for value in row) for row in cursor.fetchall()]
    finally:
        connection.close()


def _in_range(key: str, prefix: str, first_day: str | None, last_day: str | None) -> bool:
    part = key.removeprefix(prefix)
    if not part.startswith(f"{PARTITION}="):
        return False
    day = part[len(PARTITION) + 1 :].split("/", 1)[0]
    return (first_day is None or day >= first_day) and (last_day is None or day <= last_day)


def _local_copy(bucket: str, key: str, etag: str) -> str:
    """The object, copied once to the local cache under the same `<table>/day=<d>/` folders (DuckDB reads
    the partition from the path), named by the digest of its key and ETag."""
    digest = hashlib.sha256(f"{bucket}/{key}/{etag}".encode()).hexdigest()[:40]
    folder = CACHE_DIR / hashlib.sha256(bucket.encode()).hexdigest()[:16] / key.rsplit("/", 1)[0]
    target = folder / f"{digest}.parquet"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        body = aws.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        scratch = target.with_suffix(f".{os.getpid()}.part")
        scratch.write_bytes(body)
        scratch.replace(target)
    return str(target)


def lake_files(bucket: str, events_from: str | None, events_to: str | None) -> dict[str, list[str]]:
    """Local copies of the lake's files: the events of the days in range, all the changes."""
    client = aws.s3()
    found: dict[str, list[str]] = {}
    for table in TABLES:
        prefix = f"{table.name}/"
        first, last = (events_from, events_to) if table is EVENTS else (None, None)
        start_after = f"{prefix}{PARTITION}={first}" if first else ""
        paths: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, StartAfter=start_after
        ):
            for entry in page.get("Contents", []):
                key = entry["Key"]
                if key.endswith(".parquet") and _in_range(key, prefix, first, last):
                    paths.append(_local_copy(bucket, key, str(entry.get("ETag", ""))))
        found[table.name] = paths
    return found


def fingerprint(files: dict[str, list[str]]) -> str:
    """Which files a result was computed from (part of a cached result's key)."""
    return hashlib.sha256(
        "\n".join(sorted(p for paths in files.values() for p in paths)).encode()
    ).hexdigest()[:32]

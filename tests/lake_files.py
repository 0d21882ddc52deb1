"""Lake rows written as the lake's Parquet layout (`<table>/day=<d>/<name>.parquet`), for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from lake.schema import PARTITION, TABLES


def write_parquet(
    rows_by_table: dict[str, list[dict[str, Any]]], root: Path, *, name: str = "part"
) -> dict[str, list[str]]:
    """Write each table's rows, one file per day; returns the local paths per table."""
    written: dict[str, list[str]] = {}
    connection = duckdb.connect()
    try:
        for table in TABLES:
            rows = rows_by_table.get(table.name, [])
            written[table.name] = []
            days = sorted({row[PARTITION] for row in rows})
            for day in days:
                source = root / f"{table.name}-{day}-{name}.jsonl"
                source.write_text("".join(json.dumps(r) + "\n" for r in rows if r[PARTITION] == day))
                spec = ", ".join(f"'{k}': '{v}'" for k, v in table.duckdb_columns().items())
                target = root / table.name / f"{PARTITION}={day}" / f"{name}.parquet"
                target.parent.mkdir(parents=True, exist_ok=True)
                connection.execute(
                    f"COPY (SELECT * EXCLUDE ({PARTITION}) FROM read_json('{source}', "
                    f"format='newline_delimited', columns={{{spec}}})) TO '{target}' (FORMAT parquet)"
                )
                written[table.name].append(str(target))
    finally:
        connection.close()
    return written

"""What can be checked of the Athena path without a deployed stack (docs/lake.md, "What is verified").

moto stores Athena queries but runs none, so these tests check the two things Athena depends on:
- the SQL: every report's Athena text parses strictly as Athena (Trino) SQL, sqlglot writes it without
  anything it cannot express in that dialect, it calls only functions Athena engine 3 has, and, read
  back into DuckDB, it gives the same rows as the DuckDB text on the hand-checked lake (every row
  delivered twice);
- the files: what the feed sends Firehose can be read by the Hive JSON deserializer into the Glue
  tables' types, each delivery stream converts against the table whose location it writes to, and the
  Parquet files the local delivery writes carry the Glue tables' names and types (the bench checks
  its own files the same way).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from lake_data import PERIOD, lake_rows_by_table
from lake_files import write_parquet
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from lake import queries, reports
from lake.schema import CHANGES, EVENTS, PARTITION, TABLES
from lake.store import duck
from leadstream_local.firehose import to_parquet
from leadstream_local.template import StackTemplate

DATABASE = "leadstream_test_lake"

# Every parameter that changes a report's SQL.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    *(("funnel", {"by": by}) for by in ("cohort", "source", "all")),
    *(
        ("attribution", {"model": model, "outcome": outcome, "lookbackDays": 30})
        for model in ("first", "last", "linear", "u-shaped")
        for outcome in ("mql", "opportunity", "customer", "revenue")
    ),
    ("acquisition", {}),
    ("web", {}),
    ("web", {"top": 1}),
    ("performance", {}),
    ("performance", {"campaignId": "c1"}),
]

# The functions the reports may call on Athena: each is in Athena engine 3's (Trino's) function list.
ATHENA_FUNCTIONS = {
    "AVG", "CAST", "COALESCE", "COUNT", "DATE_FORMAT", "FLOOR", "MAX", "MAX_BY", "MIN", "MIN_BY", "ROUND",
    "ROW_NUMBER", "SUM", "TO_UNIXTIME", "TO_UTF8", "XXHASH64",
}  # fmt: skip
TRINO_TYPES = {"VARCHAR", "TIMESTAMP", "DOUBLE", "BIGINT", "INTEGER", "DATE", "BOOLEAN", "DECIMAL"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("lake")
    rows = lake_rows_by_table()
    first = write_parquet(rows, root, name="first")
    again = write_parquet(rows, root, name="redelivered")
    return {table: first[table] + again[table] for table in first}


def athena_sql(report: str, params: dict[str, Any]) -> tuple[str, str]:
    query = reports.QUERY_MODELS[report].model_validate({**PERIOD, **params})
    bound = reports.bound_params(report, query)
    return queries.render(report, bound, "duckdb"), queries.render(report, bound, "athena", DATABASE)


def back_to_duckdb(tree: exp.Expr) -> str:
    """The Athena tree as DuckDB SQL, its Glue tables read from the local views."""

    def local(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "XXHASH64":
            (encoded,) = node.expressions  # xxhash64(to_utf8(text)): DuckDB's hash(text) stands in
            assert isinstance(encoded, exp.Encode)
            return exp.Anonymous(this="hash", expressions=[encoded.this])
        if isinstance(node, exp.Table) and node.db == DATABASE:
            return exp.Table(this=exp.to_identifier(f"lake_{node.name}"), alias=node.args.get("alias"))
        return node

    return tree.transform(local).sql(dialect="duckdb")


def function_names(tree: exp.Expr) -> set[str]:
    text = re.sub(r"'[^']*'", "''", tree.sql(dialect="athena", comments=False))
    called = {name.upper() for name in re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", text)}
    keywords = {"AS", "IN", "OVER", "VALUES", "AND", "OR", "FROM", "BY", "EXISTS", "JOIN"}
    aliases = {alias.name.upper() for alias in tree.find_all(exp.TableAlias)}  # `AS d(x, y)`
    return called - keywords - aliases


@pytest.mark.parametrize(("report", "params"), VARIANTS)
def test_the_athena_sql_is_strict_athena_and_gives_the_duckdb_numbers(
    files: dict[str, list[str]], report: str, params: dict[str, Any]
) -> None:
    duck_text, athena_text = athena_sql(report, params)
    tree = sqlglot.parse_one(athena_text, read="athena", error_level=ErrorLevel.RAISE)
    # Written again in Athena's dialect with nothing sqlglot would have to drop or approximate.
    tree.sql(dialect="athena", unsupported_level=ErrorLevel.RAISE)
    assert function_names(tree) <= ATHENA_FUNCTIONS
    casts = {c.to.this.name for c in tree.find_all(exp.Cast)}
    assert {exp.DataType.build(name).sql(dialect="athena").split("(")[0] for name in casts} <= TRINO_TYPES
    tables = {(t.db, t.name) for t in tree.find_all(exp.Table) if t.name in ("events", "changes")}
    assert tables
    assert tables <= {(DATABASE, "events"), (DATABASE, "changes")}
    assert not list(tree.find_all(exp.Placeholder))

    names, rows = duck.query(files, duck_text)
    names_back, rows_back = duck.query(files, back_to_duckdb(tree))
    assert names_back == names
    assert rows_back == rows
    assert rows or report == "performance"  # the hand-checked lake has rows for every other report


# -- The files Athena reads --------------------------------------------------------------------------

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$")  # java.sql.Timestamp.valueOf
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # java.sql.Date.valueOf


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Whether the Hive JSON deserializer (Firehose's, without TimestampFormats) reads a JSON value as the type.
HIVE_JSON_READS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "timestamp": lambda v: isinstance(v, str) and bool(TIMESTAMP.match(v)),
    "date": lambda v: isinstance(v, str) and bool(DATE.match(v)),
    "boolean": lambda v: isinstance(v, bool),
    "bigint": lambda v: _number(v) and isinstance(v, int) and abs(v) < 2**63,
    "decimal(18,2)": lambda v: _number(v) and abs(v) < 10**16 and round(v, 2) == v,
}


def hive_json_reads(glue_type: str, value: object) -> bool:
    return value is None or bool(HIVE_JSON_READS[glue_type](value))


def glue_columns(logical: str) -> list[tuple[str, str]]:
    table = StackTemplate.load().resources[logical]["Properties"]["TableInput"]
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


def test_every_row_the_feed_sends_fits_the_glue_types() -> None:
    rows = lake_rows_by_table()
    for logical, table in (("LakeEventsTable", EVENTS), ("LakeChangesTable", CHANGES)):
        columns = glue_columns(logical)
        assert rows[table.name]
        for row in rows[table.name]:
            assert set(row) == {name for name, _ in columns} | {PARTITION}
            assert DATE.match(row[PARTITION])
            for name, glue_type in columns:
                assert hive_json_reads(glue_type, row[name]), (table.name, name, row[name])


def test_each_delivery_stream_converts_against_the_table_whose_location_it_writes() -> None:
    template = StackTemplate.load()
    for stream, logical, table in (
        ("LakeEventsDeliveryStream", "LakeEventsTable", EVENTS),
        ("LakeChangesDeliveryStream", "LakeChangesTable", CHANGES),
    ):
        destination = template.resources[stream]["Properties"]["ExtendedS3DestinationConfiguration"]
        schema = destination["DataFormatConversionConfiguration"]["SchemaConfiguration"]
        assert schema["TableName"] == {"Ref": logical}
        assert schema["DatabaseName"] == {"Ref": "LakeDatabase"}
        assert destination["Prefix"] == f"{table.name}/{PARTITION}=!{{partitionKeyFromQuery:{PARTITION}}}/"
        assert destination["DataFormatConversionConfiguration"]["OutputFormatConfiguration"] == {
            "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}
        }
        glue = template.resources[logical]["Properties"]["TableInput"]
        location = glue["Parameters"]["storage.location.template"]["Fn::Sub"]
        assert location == f"s3://${{LakeBucket}}/{table.name}/{PARTITION}=${{!{PARTITION}}}/"
        assert glue["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")


# The Parquet types Athena reads as each Glue type (physical type, logical type).
PARQUET_TYPES: dict[str, set[tuple[str, str | None]]] = {
    "string": {("BYTE_ARRAY", "StringType()"), ("BYTE_ARRAY", "UTF8")},
    "timestamp": {("INT96", None), ("INT64", "TIMESTAMP_MICROS"), ("INT64", "TIMESTAMP_MILLIS")},
    "boolean": {("BOOLEAN", None)},
    "bigint": {("INT64", None)},
    "date": {("INT32", "DATE")},
    "decimal(18,2)": {("INT64", "DECIMAL(18,2)"), ("FIXED_LEN_BYTE_ARRAY", "DECIMAL(18,2)")},
}


def parquet_columns(path: str) -> list[tuple[str, str, tuple[str, str | None]]]:
    connection = duckdb.connect()
    try:
        found = connection.execute(
            "SELECT name, type, converted_type, logical_type, scale, precision "
            f"FROM parquet_schema('{path}') WHERE type IS NOT NULL"
        ).fetchall()
    finally:
        connection.close()
    columns = []
    for name, physical, converted, logical, scale, precision in found:
        if converted == "DECIMAL":
            kind: str | None = f"DECIMAL({precision},{scale})"
        elif logical and "Timestamp" in str(logical):
            kind = "TIMESTAMP_MICROS" if "MICROS" in str(logical).upper() else "TIMESTAMP_MILLIS"
        elif converted in ("DATE", "UTF8"):
            kind = converted
        else:
            kind = str(logical) if logical else None
        columns.append((str(name), glue_type_of(physical, kind), (str(physical), kind)))
    return columns


def glue_type_of(physical: str, kind: str | None) -> str:
    matches = [glue for glue, accepted in PARQUET_TYPES.items() if (physical, kind) in accepted]
    return matches[0] if matches else f"? {physical} {kind}"


def test_the_parquet_the_local_delivery_writes_has_the_glue_names_and_types(tmp_path: Path) -> None:
    rows = lake_rows_by_table()
    for logical, table in (("LakeEventsTable", EVENTS), ("LakeChangesTable", CHANGES)):
        columns = tuple(glue_columns(logical))
        target = tmp_path / f"{table.name}.parquet"
        to_parquet(rows[table.name], columns, target)
        assert [(name, glue) for name, glue, _ in parquet_columns(str(target))] == list(columns)


def test_the_tables_module_lists_every_glue_table() -> None:
    assert {table.name for table in TABLES} == {"events", "changes"}

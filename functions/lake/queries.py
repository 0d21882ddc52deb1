"""Report SQL: one source per report (lake/sql/<report>.sql, DuckDB's dialect, after the shared CTEs of
lake/sql/common.sql), bound to its parameters and translated for the engine with sqlglot.

Parameters are `:name` placeholders; binding replaces each with a literal in the parsed tree (never by
pasting text), after the routes validated every value. For Athena the tree is written in Athena's
(Trino) dialect and the two lake tables are qualified with the Glue database; for DuckDB it stays as
written and the tables are views over the Parquet files (lake.store.duck).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.optimizer.eliminate_ctes import eliminate_ctes

from leadstream.caches import container_cache

SQL_DIR = Path(__file__).with_name("sql")
REPORTS = ("funnel", "attribution", "acquisition", "web", "performance")
LAKE_TABLES = {"lake_events": "events", "lake_changes": "changes"}
Dialect = Literal["duckdb", "athena"]
ParamValue = str | int | float


@container_cache
def source(report: str) -> str:
    """The report's whole query: the shared CTEs, then its own."""
    if report not in REPORTS:
        raise KeyError(report)
    common = (SQL_DIR / "common.sql").read_text()
    body = (SQL_DIR / f"{report}.sql").read_text()
    code = re.sub(r"--[^\n]*", "", body).strip()
    joiner = "\n" if code.upper().startswith("SELECT") else ",\n"
    return f"WITH\n{common.strip()}{joiner}{body}"


@container_cache
def _parsed(report: str) -> exp.Expr:
    tree = sqlglot.parse_one(source(report), read="duckdb")
    assert tree is not None
    while True:  # drop the shared CTEs this report does not use (and those only they used)
        before = _cte_count(tree)
        tree = eliminate_ctes(tree)
        if _cte_count(tree) == before:
            return tree


def _cte_count(tree: exp.Expr) -> int:
    with_ = tree.args.get("with_")
    return len(with_.expressions) if isinstance(with_, exp.With) else 0


def placeholders(report: str) -> set[str]:
    return {str(node.name) for node in _parsed(report).find_all(exp.Placeholder)}


def render(report: str, params: dict[str, ParamValue], dialect: Dialect, database: str = "") -> str:
    """The report's SQL for `dialect`, with `params` bound; a missing parameter is a bug (KeyError)."""
    wanted = placeholders(report)
    missing = wanted - params.keys()
    if missing:
        raise KeyError(f"{report}: no value for {sorted(missing)}")

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder):
            value = params[str(node.name)]
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise TypeError(f"{node.name}: {value!r}")
            return exp.Literal.string(value) if isinstance(value, str) else exp.Literal.number(value)
        if dialect == "athena" and _is_hash(node):
            return _athena_hash(node.expressions[0])
        if dialect == "athena" and isinstance(node, exp.Table) and node.name in LAKE_TABLES and not node.db:
            return exp.Table(
                this=exp.to_identifier(LAKE_TABLES[node.name], quoted=True),
                db=exp.to_identifier(database, quoted=True),
                alias=node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name)),
            )
        return node

    tree = _parsed(report).copy().transform(bind)
    # Anything sqlglot cannot express in the target dialect is an error here, not a silently changed query.
    return tree.sql(dialect="duckdb" if dialect == "duckdb" else "athena", unsupported_level=ErrorLevel.RAISE)


def _is_hash(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).lower() == "hash" and len(node.expressions) == 1


def _athena_hash(value: exp.Expr) -> exp.Expr:
    """DuckDB's `hash(text)` (a 64-bit hash) as Athena writes one: `xxhash64(to_utf8(text))`. The two
    differ in value, which no report shows: a hash only groups and matches rows within one query."""
    encoded = exp.Encode(this=value, charset=exp.Literal.string("utf-8"))
    return exp.Anonymous(this="XXHASH64", expressions=[encoded])

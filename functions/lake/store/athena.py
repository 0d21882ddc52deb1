"""Reports on Athena: start a query in the lake's workgroup, read its state, read its results.

The workgroup enforces its results location, encryption and bytes-scanned limit (template.yaml); a
query over the limit is cancelled by Athena and reported here as failed with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from leadstream import aws

MAX_PAGES = 50  # 50 pages of 1,000 rows: a report is never that long; more is cut


@dataclass(frozen=True)
class Execution:
    execution_id: str
    state: str  # QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED
    reason: str
    bytes_scanned: int

    @property
    def done(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")


def start(sql: str, *, workgroup: str, database: str, token: str) -> str:
    answer = aws.athena().start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        WorkGroup=workgroup,
        ClientRequestToken=token,
    )
    return str(answer["QueryExecutionId"])


def execution(execution_id: str) -> Execution:
    found = aws.athena().get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    status = found.get("Status", {})
    return Execution(
        execution_id=execution_id,
        state=str(status.get("State", "QUEUED")),
        reason=str(status.get("StateChangeReason", "")),
        bytes_scanned=int(found.get("Statistics", {}).get("DataScannedInBytes", 0)),
    )


def _typed(value: str | None, kind: str) -> Any:  # noqa: PLR0911  # one return per Athena type
    if value is None:
        return None
    try:
        if kind in ("tinyint", "smallint", "integer", "bigint"):
            return int(value)
        if kind in ("double", "float", "real", "decimal"):
            return float(Decimal(value))
        if kind == "boolean":
            return value == "true"
        if kind == "date":
            return date.fromisoformat(value).isoformat()
        if kind.startswith("timestamp"):
            return datetime.fromisoformat(value).isoformat(sep=" ")
    except (ValueError, InvalidOperation):
        return value
    return value


def results(execution_id: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    client = aws.athena()
    names: list[str] = []
    kinds: list[str] = []
    rows: list[tuple[Any, ...]] = []
    token: str | None = None
    first = True
    for _ in range(MAX_PAGES):
        answer = client.get_query_results(
            QueryExecutionId=execution_id, MaxResults=1000, **({"NextToken": token} if token else {})
        )
        result = answer["ResultSet"]
        if first:
            columns = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            names = [str(column["Name"]) for column in columns]
            kinds = [str(column.get("Type", "varchar")).lower() for column in columns]
        page = result.get("Rows", [])
        if first and page and names and [d.get("VarCharValue") for d in page[0]["Data"]] == names:
            page = page[1:]  # the header row Athena puts first
        first = False
        for row in page:
            cells = [datum.get("VarCharValue") for datum in row["Data"]]
            rows.append(tuple(_typed(cell, kind) for cell, kind in zip(cells, kinds, strict=False)))
        token = answer.get("NextToken")
        if not token:
            break
    return names, rows

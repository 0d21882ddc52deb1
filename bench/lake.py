"""The lake's reports at 1M and 10M events: time, peak memory, bytes scanned, and the floor.

A synthetic lake in the lake's own layout (`events/day=<d>/*.parquet`, `changes/day=<d>/*.parquet`, the
columns of lake.schema) is generated with DuckDB in SQL: 100,000 people over 90 days (1 Jan to 31 Mar
2026), 10% of events marketing touches, a funnel (everyone a lead, 20% MQL, 10% SQL, 5,000 deals of which
2,000 won), sends with opens and clicks, orders and contracts. Then each report runs over March, as the
local stack runs it (lake.queries.render + lake.store.duck.query), each run in a subprocess of its own so
its peak memory is that process's max RSS (os.wait4). In the same run, the floor: DuckDB reading just the
columns the report's SQL names from the same files and partitions (`max()` of each, a bare scan); a
report's time divided by the floor's shows what our SQL adds on top of reading the data.

Bytes scanned are what Athena would bill: the compressed size of the column chunks the report names, in
the partitions it reads (parquet_metadata), against the raw size of the same events (their JSON rows,
what Firehose receives) and the whole Parquet table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from lake import queries, reports
from lake.schema import CHANGES, EVENTS, PARTITION, TABLES

SIZES = (1_000_000, 10_000_000)
PEOPLE = 100_000
DEALS = 5_000
DAYS = 90
FIRST_DAY = "2026-01-01"
PERIOD = {"from": "2026-03-01", "to": "2026-03-31"}
PARAMS: dict[str, dict[str, str]] = {
    "funnel": {"by": "cohort"},
    "attribution": {"model": "u-shaped", "outcome": "revenue"},
    "acquisition": {},
    "web": {},
    "performance": {},
}
FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"
ROUNDS = 3  # each report and its floor run this many times, interleaved; the fastest run of each counts


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float
    rows: int


@dataclass(frozen=True)
class ReportCost:
    report: str
    events: int
    run: Run
    floor: Run
    scanned_bytes: int

    @property
    def ratio(self) -> float:
        return self.run.seconds / self.floor.seconds if self.floor.seconds else 0.0


@dataclass(frozen=True)
class WebCheck:
    """What the web report's exactly-once costs, and why it counts visitors exactly (largest size)."""

    events: int
    report: Run
    without_dedup: Run  # the same SQL with its de-duplication removed: wrong under redelivery, a yardstick
    floor: Run
    approx_mean_error: float  # DuckDB approx_count_distinct vs the exact visitors per page
    approx_max_error: float


@dataclass(frozen=True)
class LakeResult:
    events: dict[int, int]  # size -> events generated
    generate_seconds: dict[int, float]
    parquet_bytes: dict[int, dict[str, int]]  # size -> table -> bytes
    json_bytes_per_event: float
    costs: list[ReportCost]
    web: WebCheck | None = None


EVENTS_SQL = """
COPY (
  WITH n AS (SELECT range AS i, (hash(range) >> 1)::BIGINT AS h FROM range({events}))
  SELECT
    md5(i::VARCHAR)[:32] AS event_id,
    'src1' AS source_id,
    CASE WHEN h % 10 < 7 THEN 'page' WHEN h % 10 < 9 THEN 'track' ELSE 'identify' END AS type,
    CASE WHEN h % 10 >= 7 THEN 'Event ' || (h % 20)::VARCHAR END AS event_name,
    'anon:a' || (h % {people})::VARCHAR AS identity,
    'a' || (h % {people})::VARCHAR AS anonymous_id,
    CAST(NULL AS VARCHAR) AS user_id,
    TIMESTAMP '{first} 00:00:00' + to_microseconds(CAST(i * ({days} * 86400000000 // {events})
      AS BIGINT)) AS occurred_at,
    TIMESTAMP '{first} 00:00:00' + to_microseconds(CAST(i * ({days} * 86400000000 // {events})
      AS BIGINT)) AS received_at,
    'www.example.com' AS page_host,
    '/page/' || ((h >> 8) % 200)::VARCHAR AS page_path,
    CASE WHEN (h >> 16) % 10 = 0 THEN ['www.google.com', 'news.example.org', 'www.linkedin.com'][1
      + (h >> 20) % 3] END AS referrer_host,
    CASE WHEN (h >> 16) % 10 = 0 AND (h >> 24) % 2 = 0 THEN ['google', 'linkedin', 'newsletter',
      'bing'][1 + (h >> 28) % 4] END AS utm_source,
    CASE WHEN (h >> 16) % 10 = 0 AND (h >> 24) % 2 = 0 THEN ['cpc', 'social', 'email', 'cpc'][1
      + (h >> 28) % 4] END AS utm_medium,
    CASE WHEN (h >> 16) % 10 = 0 AND (h >> 24) % 2 = 0
      THEN 'campaign-' || ((h >> 32) % 30)::VARCHAR END AS utm_campaign,
    CAST(NULL AS VARCHAR) AS utm_content,
    (h >> 16) % 10 = 0 AND h % 10 < 7 AS touch,
    CASE WHEN (h >> 16) % 10 = 0 AND h % 10 < 7 THEN ['paid', 'social', 'email', 'search',
      'referral'][1 + (h >> 28) % 5] END AS channel,
    strftime(occurred_at, '%Y-%m-%d') AS day
  FROM n
) TO '{root}/events' (FORMAT parquet, PARTITION_BY (day), COMPRESSION snappy, OVERWRITE_OR_IGNORE)
"""

CHANGES_SQL = """
COPY (
  WITH people AS (SELECT range AS p, (hash(range + 7) >> 1)::BIGINT AS h FROM range({people})),
  base AS (
    SELECT p, h, TIMESTAMP '{first} 00:00:00' + to_microseconds(CAST((h % ({days} * 86400)) * 1000000
      AS BIGINT)) AS t0
    FROM people
  ),
  identity_rows AS (
    SELECT md5('i' || p)[:32] AS change_id, 'identity' AS kind, t0 AS "at", 'p' || p AS profile_id,
      'anon:a' || p AS identity FROM base
  ),
  stage_rows AS (
    SELECT md5('s' || p || s.stage)[:32] AS change_id, 'stage' AS kind,
      t0 + to_days(s.k * CAST(1 + (h >> 8) % 9 AS INTEGER)) AS "at", 'p' || p AS profile_id, s.stage
    FROM base
    JOIN (VALUES ('lead', 0, 100), ('marketing-qualified', 1, 20), ('sales-qualified', 2, 10))
      AS s(stage, k, pct)
      ON (h >> 4) % 100 < s.pct
  ),
  known_rows AS (
    SELECT md5('k' || p)[:32] AS change_id, 'known' AS kind, t0 AS "at", 'p' || p AS profile_id FROM base
    WHERE (h >> 4) % 100 < 30
  ),
  contact_rows AS (
    SELECT md5('c' || p)[:32] AS change_id, 'contact' AS kind, t0 AS "at", 'p' || p AS profile_id,
      'k' || p AS contact_id, 1 AS version FROM base WHERE p < {deals}
  ),
  deal_rows AS (
    SELECT md5('d' || p || v)[:32] AS change_id, 'deal' AS kind,
      t0 + to_days(5 + 10 * v) AS "at", 'k' || p AS contact_id, 'd' || p AS deal_id,
      CASE WHEN v = 1 THEN 'open' WHEN p % 5 < 2 THEN 'won' ELSE 'lost' END AS status,
      CAST(1000 + p % 9000 AS DECIMAL(18,2)) AS amount, 'USD' AS currency,
      CASE WHEN v = 2 THEN t0 + to_days(25) END AS closed_at, v AS version
    FROM base, (VALUES (1), (2)) AS versions(v) WHERE p < {deals}
  ),
  send_rows AS (
    SELECT md5('m' || p || m.milestone)[:32] AS change_id, 'send' AS kind, t0 + to_hours(m.k) AS "at",
      'p' || p AS profile_id, 's' || p AS send_id, m.milestone, 'c' || (p % 12) AS campaign_id
    FROM base JOIN (VALUES ('sent', 0, 100), ('opened', 2, 30), ('clicked', 3, 10)) AS m(milestone, k, pct)
      ON (h >> 12) % 100 < m.pct
  ),
  contract_rows AS (
    SELECT md5('k' || p)[:32] AS change_id, 'contract' AS kind, t0 AS "at", 'ct' || p AS contract_id,
      CASE WHEN p % 3 = 0 THEN 'expired' ELSE 'active' END AS status, 1 AS version
    FROM base WHERE p < 1000
  ),
  everything AS (
    SELECT * FROM identity_rows UNION ALL BY NAME SELECT * FROM stage_rows
    UNION ALL BY NAME SELECT * FROM known_rows UNION ALL BY NAME SELECT * FROM contact_rows
    UNION ALL BY NAME SELECT * FROM deal_rows UNION ALL BY NAME SELECT * FROM send_rows
    UNION ALL BY NAME SELECT * FROM contract_rows
  )
  SELECT {columns}, strftime("at", '%Y-%m-%d') AS day FROM everything
) TO '{root}/changes' (FORMAT parquet, PARTITION_BY (day), COMPRESSION snappy, OVERWRITE_OR_IGNORE)
"""


def generate(root: Path, events: int) -> float:
    import duckdb

    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    try:
        common = {"people": PEOPLE, "first": FIRST_DAY, "days": DAYS, "root": root, "deals": DEALS}
        connection.execute(EVENTS_SQL.format(events=events, **common))
        present = {"change_id", "kind", "at", "profile_id", "identity", "stage", "contact_id", "deal_id",
                   "status",
                   "amount", "currency", "closed_at", "version", "send_id", "milestone", "campaign_id",
                   "contract_id"}  # fmt: skip
        columns = ", ".join(
            f'CAST("{c.name}" AS {c.duckdb_type}) AS "{c.name}"'
            if c.name in present
            else f'CAST(NULL AS {c.duckdb_type}) AS "{c.name}"'
            for c in CHANGES.columns
        )
        connection.execute(CHANGES_SQL.format(columns=columns, **common))
    finally:
        connection.close()
    return time.perf_counter() - started


def _files(root: Path, table: str, first: str | None = None, last: str | None = None) -> list[str]:
    found = []
    for folder in sorted((root / table).glob(f"{PARTITION}=*")):
        day = folder.name.split("=", 1)[1]
        if (first is None or day >= first) and (last is None or day <= last):
            found.extend(str(path) for path in sorted(folder.glob("*.parquet")))
    return found


def report_sql(report: str) -> tuple[str, dict[str, Any]]:
    query = reports.QUERY_MODELS[report].model_validate({**PERIOD, **PARAMS[report]})
    params = reports.bound_params(report, query)
    return queries.render(report, params, "duckdb"), params


def needed_columns(sql: str) -> dict[str, list[str]]:
    """The columns of each lake table that the query names (an upper bound of what it reads)."""
    names = {column.name for column in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}
    return {table.name: [c for c in (*table.column_names, PARTITION) if c in names] for table in TABLES}


def plan(root: Path, report: str) -> tuple[dict[str, list[str]], str, str]:
    """The files the report reads, its SQL, and the floor's SQL over the same files and columns."""
    sql, params = report_sql(report)
    first_event_day = str(params.get("touch_from_day", params.get("from_day")))
    files = {EVENTS.name: _files(root, EVENTS.name, first_event_day, str(params["to_day"]))}
    files[CHANGES.name] = _files(root, CHANGES.name)
    columns = needed_columns(sql)
    scans = []
    for table in TABLES:
        wanted = [c for c in columns[table.name] if c != PARTITION]
        if files[table.name] and wanted:
            picked = ", ".join(f'max("{c}") AS {table.name}_{c}' for c in wanted)
            scans.append(f"(SELECT {picked} FROM lake_{table.name})")
    floor = "SELECT * FROM " + " CROSS JOIN ".join(scans)
    return files, sql, floor


def scanned_bytes(files: dict[str, list[str]], columns: dict[str, list[str]]) -> int:
    """Compressed bytes of the named columns' chunks in the given files (what Athena bills)."""
    import duckdb

    total = 0
    connection = duckdb.connect()
    try:
        for table, paths in files.items():
            wanted = [c for c in columns[table] if c != PARTITION]
            if not paths or not wanted:
                continue
            listed = ", ".join(f"'{p}'" for p in paths)
            names = ", ".join(f"'{c}'" for c in wanted)
            (size,) = connection.execute(
                f"SELECT coalesce(sum(total_compressed_size), 0) FROM parquet_metadata([{listed}]) "
                f"WHERE path_in_schema IN ({names})"
            ).fetchone() or (0,)
            total += int(size)
    finally:
        connection.close()
    return total


_CHILD = """
import json, sys, time
sys.path.insert(0, {functions!r})
from lake.store import duck
job = json.load(open({job!r}))
started = time.perf_counter()
names, rows = duck.query(job["files"], job["sql"])
seconds = time.perf_counter() - started
peak_kib = 0
try:  # the high-water mark of this process's own memory (exec starts it afresh)
    status = open("/proc/self/status").read()
    peak_kib = int(status.split("VmHWM:", 1)[1].split()[0])
except (OSError, IndexError, ValueError):
    pass
print(json.dumps({{"seconds": seconds, "rows": len(rows), "peak_kib": peak_kib}}))
"""


def run_isolated(files: dict[str, list[str]], sql: str, scratch: Path) -> Run:
    """Run one query in a fresh process; its time (inside) and its peak memory (max RSS)."""
    job = scratch / "job.json"
    job.write_text(json.dumps({"files": files, "sql": sql}))
    code = _CHILD.format(functions=str(FUNCTIONS), job=str(job))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"query failed ({process.returncode}): {sql[:200]}")
    measured = json.loads(output.strip().splitlines()[-1])
    # ru_maxrss of a child counts the memory of the process it was forked from (this one, which has
    # generated the lake) when that was larger; the child's own high-water mark does not.
    peak_kib = measured["peak_kib"] or usage.ru_maxrss
    return Run(seconds=measured["seconds"], peak_mib=peak_kib / 1024, rows=measured["rows"])


def json_bytes_per_event(root: Path) -> float:
    """The average size of an events row as JSON (what the feed hands to Firehose)."""
    import duckdb

    connection = duckdb.connect()
    try:
        listed = ", ".join(f"'{p}'" for p in _files(root, EVENTS.name)[:3])
        (size,) = connection.execute(
            "SELECT avg(length(to_json(e))) FROM "
            f"(SELECT * FROM read_parquet([{listed}], hive_partitioning = true) "
            "LIMIT 20000) AS e"
        ).fetchone() or (0.0,)
    finally:
        connection.close()
    return float(size)


def _table_bytes(root: Path) -> dict[str, int]:
    return {
        table.name: sum(p.stat().st_size for p in (root / table.name).rglob("*.parquet")) for table in TABLES
    }


def check_schema(root: Path) -> None:
    """The generated files have the lake's columns and types (those of the Glue tables), or the bench
    would measure something the deployed lake never holds."""
    import duckdb

    connection = duckdb.connect()
    try:
        for table in TABLES:
            path = sorted((root / table.name).rglob("*.parquet"))[0]
            found = connection.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning = false)"
            ).fetchall()
            got = [(str(name), str(kind)) for name, kind, *_ in found]
            wanted = [(c.name, c.duckdb_type) for c in table.columns]
            if got != wanted:
                raise RuntimeError(f"generated {table.name} files differ from lake.schema: {got} != {wanted}")
    finally:
        connection.close()


def fastest(runs: list[Run]) -> Run:
    return min(runs, key=lambda run: run.seconds)


def without_dedup(sql: str) -> str:
    """The web SQL with its `copies` of redelivered views made empty (a yardstick only)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for cte in tree.find_all(exp.CTE):
        if cte.alias == "copies" and isinstance(cte.this, exp.Select):
            cte.set("this", cte.this.where("FALSE"))
    return tree.sql(dialect="duckdb")


def approx_errors(files: dict[str, list[str]]) -> tuple[float, float]:
    """Mean and largest relative error of DuckDB's approx_count_distinct of visitors per page."""
    import duckdb

    listed = ", ".join(f"'{p}'" for p in files[EVENTS.name])
    connection = duckdb.connect()
    try:
        (mean, largest) = connection.execute(
            "SELECT avg(abs(e)), max(abs(e)) FROM (SELECT approx_count_distinct(identity) / "
            f"count(DISTINCT identity) - 1 AS e FROM read_parquet([{listed}]) WHERE type = 'page' "
            "GROUP BY page_path)"
        ).fetchone() or (0.0, 0.0)
    finally:
        connection.close()
    return float(mean), float(largest)


def measure(sizes: tuple[int, ...] = SIZES) -> LakeResult:
    costs: list[ReportCost] = []
    generated: dict[int, float] = {}
    table_bytes: dict[int, dict[str, int]] = {}
    per_event = 0.0
    web: WebCheck | None = None
    with tempfile.TemporaryDirectory(prefix="lake-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        for size in sizes:
            root = scratch / f"lake-{size}"
            generated[size] = generate(root, size)
            check_schema(root)
            table_bytes[size] = _table_bytes(root)
            per_event = json_bytes_per_event(root)
            for report in queries.REPORTS:
                files, sql, floor = plan(root, report)
                runs: list[Run] = []
                bares: list[Run] = []
                yardsticks: list[Run] = []
                for _ in range(ROUNDS):
                    runs.append(run_isolated(files, sql, scratch))
                    bares.append(run_isolated(files, floor, scratch))
                    if report == "web" and size == max(sizes):
                        yardsticks.append(run_isolated(files, without_dedup(sql), scratch))
                run, bare = fastest(runs), fastest(bares)
                scanned = scanned_bytes(files, needed_columns(sql))
                costs.append(ReportCost(report, size, run, bare, scanned))
                print(f"  {size:,} {report}: {run.seconds:.2f} s (floor {bare.seconds:.2f} s)", flush=True)
                if yardsticks:
                    mean, largest = approx_errors(files)
                    web = WebCheck(size, run, fastest(yardsticks), bare, mean, largest)
            for path in sorted(root.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
    return LakeResult(
        events={size: size for size in sizes},
        generate_seconds=generated,
        parquet_bytes=table_bytes,
        json_bytes_per_event=per_event,
        costs=costs,
        web=web,
    )


# us-east-1 list prices (December 2026): Firehose Direct PUT ingestion $0.029/GB, each record rounded up
# to 5 KB (the feed packs rows into records of up to 64 KB, so the rounding is small); format conversion
# $0.018/GB; dynamic partitioning $0.020/GB plus $0.005 per 1,000 objects delivered; S3 Standard
# $0.023/GB-month, PUT $0.005 per 1,000; Lambda arm64 $0.0000133 per GB-second, $0.20 per million
# requests; Athena $5 per TB scanned.
PACKED_RECORD_BYTES = 64 * 1024
FIREHOSE_ROUNDING = 5 * 1024


def delivery_cost_lines(result: LakeResult) -> list[str]:
    size = max(result.parquet_bytes)
    parquet_per_event = sum(result.parquet_bytes[size].values()) / size
    actual = 1_000_000 * result.json_bytes_per_event
    records = max(1, round(actual / PACKED_RECORD_BYTES))
    billed_gb = records * FIREHOSE_ROUNDING * -(-PACKED_RECORD_BYTES // FIREHOSE_ROUNDING) / 1024**3
    ingestion = billed_gb * 0.029
    conversion = billed_gb * 0.018
    partitioning = (
        actual / 1024**3 * 0.020 + 0.005 * 0.1
    )  # ~100 objects per million (128 MB / 15 min buffers)
    invocations = 1_000_000 / 500  # the feed's batches of 500 stream records
    feed = invocations * (0.2 * 0.5 * 0.0000133 + 0.20 / 1_000_000)  # ~200 ms at 512 MB each
    storage = 1_000_000 * parquet_per_event / 1024**3 * 0.023
    return [
        f"| LakeFeedFunction ({invocations:,.0f} invocations of 500 records, ~200 ms at 512 MB) "
        f"| ${feed:.4f} |",
        f"| Firehose ingestion ({records:,} records of ~64 KB: rows of ~{result.json_bytes_per_event:.0f} B "
        f"packed as JSON lines) | ${ingestion:.4f} |",
        f"| Firehose Parquet conversion ($0.018/GB of the same volume) | ${conversion:.4f} |",
        f"| Firehose dynamic partitioning ($0.020/GB, $0.005 per 1,000 objects) | ${partitioning:.4f} |",
        "| S3 PUT requests (about 100 objects per million events) | $0.0005 |",
        f"| S3 storage (Parquet, {parquet_per_event:.0f} B per event, per month; cheaper after 90 days) "
        f"| ${storage:.4f} |",
    ]


def web_lines(web: WebCheck) -> list[str]:
    ratio = web.report.seconds / web.floor.seconds if web.floor.seconds else 0.0
    bare = web.without_dedup.seconds / web.floor.seconds if web.floor.seconds else 0.0
    return [
        "",
        f"The web report at {web.events:,} events, what its exactly-once costs (same run, fastest of "
        f"{ROUNDS}):",
        "",
        "| query | time s | ratio to the floor |",
        "| --- | --- | --- |",
        f"| floor: the page-view and people columns, read | {web.floor.seconds:.2f} | 1.0x |",
        f"| web report (`lake/sql/web.sql`) | {web.report.seconds:.2f} | {ratio:.1f}x |",
        f"| the same SQL without de-duplicating page views (counts a redelivered view twice: a yardstick, "
        f"not a report) | {web.without_dedup.seconds:.2f} | {bare:.1f}x |",
        "",
        "Visitors per page counted by DuckDB's `approx_count_distinct` instead, on this lake: "
        f"{web.approx_mean_error:.1%} off on average, up to {web.approx_max_error:.1%} (Athena's "
        "`approx_distinct` is documented at 2.3% standard error), so the report counts them exactly.",
    ]


def render(result: LakeResult) -> list[str]:
    sizes = sorted(result.events)
    lines = [
        "## The lake: reports over 1M and 10M events, DuckDB, the floor in the same run",
        "",
        "Command: `make bench ONLY=lake` (bench/lake.py). A synthetic lake in the lake's layout, generated",
        f"with DuckDB in SQL and checked against the lake's columns and types: {PEOPLE:,} people, "
        f"{DEALS:,} deals, {DAYS} days",
        "of events (Parquet, Snappy, one folder per day); every report over March with its default",
        "parameters, on the events and changes as they are delivered (no rollup, no pre-aggregation). Each",
        f"query runs in a process of its own, {ROUNDS} times interleaved with its floor; the fastest run of",
        "each counts (the machine is shared: the slower runs measure the neighbours). Time is measured",
        "inside the process; peak memory is that process's own high-water mark (VmHWM), DuckDB and Python",
        "included. The floor is DuckDB reading just the columns the report names from the same files",
        "(`max()` of each); the ratio is report time / floor time. Bytes scanned are the compressed column",
        "chunks the report names in the partitions it reads: what Athena would bill.",
        "",
        "| events | generated in | Parquet: events / changes | raw events as JSON |",
        "| --- | --- | --- | --- |",
    ]
    for size in sizes:
        tables = result.parquet_bytes[size]
        lines.append(
            f"| {size:,} | {result.generate_seconds[size]:.1f} s | {tables['events'] / 1024**2:,.1f} MiB / "
            f"{tables['changes'] / 1024**2:,.1f} MiB "
            f"| {size * result.json_bytes_per_event / 1024**2:,.0f} MiB |"
        )
    lines += [
        "",
        "| report | events | time s | floor s | ratio | peak memory | rows | bytes scanned | of raw JSON |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cost in result.costs:
        raw = cost.events * result.json_bytes_per_event
        lines.append(
            f"| {cost.report} | {cost.events:,} | {cost.run.seconds:.2f} | {cost.floor.seconds:.2f} "
            f"| {cost.ratio:.1f}x | {cost.run.peak_mib:,.0f} MiB | {cost.run.rows:,} "
            f"| {cost.scanned_bytes / 1024**2:,.1f} MiB | {cost.scanned_bytes / raw:.1%} |"
        )
    largest = max(sizes)
    at_largest = [cost for cost in result.costs if cost.events == largest]
    missed = [cost.report for cost in at_largest if cost.ratio > 3]  # the 3x
    slow = [cost.report for cost in at_largest if cost.run.seconds >= 10]
    heavy = [cost.report for cost in at_largest if cost.run.peak_mib >= 2048]
    lines += [
        "",
        f"Targets at {largest:,} events (within 3x the floor, under 10 s on 2 cores, under 2 GB): "
        + "; ".join(
            [
                f"over 3x: {', '.join(missed) if missed else 'none'}",
                f"10 s or more: {', '.join(slow) if slow else 'none'}",
                f"2 GB or more: {', '.join(heavy) if heavy else 'none'}",
            ]
        )
        + '. docs/lake.md ("What the web report costs") explains the web report\'s figure.',
    ]
    if result.web is not None:
        lines += web_lines(result.web)
    lines += [
        "",
        "Lake delivery per million events (us-east-1 list prices; docs/lake.md has the arithmetic):",
        "",
        "| part | per million events |",
        "| --- | --- |",
        *delivery_cost_lines(result),
        "",
        "The delivery table is computed from this run's measured row and file sizes (rows packed into",
        "~64 KB records, as the feed sends them); with one row per record Firehose would bill each row as",
        "5 KB. Generation time is DuckDB writing the synthetic lake, not a report.",
        "",
    ]
    return lines

"""The reports: parameters, the query that answers them (lake.queries), the engine that runs it (Athena
in AWS, DuckDB locally), and the answer's shape (rows, plus what Python adds: spend and lifetime value).

`answer(report, query)` returns a `ReportAnswer`, or a `Pending` run when Athena has not finished within
the wait (the route answers 202 with the run's status URL). An Athena run is remembered per report and
parameters for `LAKE_REPORT_CACHE_SECONDS`: asking again within that time reads the same query's results
(no second scan, no second bill).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from lake import queries
from lake.settings import ReportSettings
from lake.store import athena, ledger
from leadstream import clock
from leadstream.errors import InvalidInput, NotFound
from leadstream.models import Model
from leadstream.settings import load

ReportName = Literal["funnel", "attribution", "acquisition", "web", "performance"]
Format = Literal["json", "csv", "svg"]
MAX_DAYS = 1100  # about three years in one report
DEFAULT_DAYS = 90
FUNNEL_LOOKBACK_DAYS = 365
FAILED_STATES = frozenset({"FAILED", "CANCELLED"})  # first touches are looked for this far before the period
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


class ReportQuery(Model):
    """What every report takes: a period of days (UTC, both included) and an output format."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: date | None = Field(
        default=None, alias="from", description="first day (default: 90 days before `to`)"
    )
    to: date | None = Field(default=None, description="last day, included (default: today)")
    format: Format = Field(default="json", description="json, csv or svg")

    @model_validator(mode="after")
    def _period(self) -> ReportQuery:
        for name, value in (("from", self.from_), ("to", self.to)):
            if value is not None and not EARLIEST <= value <= LATEST:
                raise ValueError(f"`{name}` must be a day between {EARLIEST} and {LATEST}")
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("`from` must be on or before `to`")
        if self.from_ and self.to and (self.to - self.from_).days > MAX_DAYS:
            raise ValueError(f"the period may span at most {MAX_DAYS} days: narrow `from`..`to`")
        return self

    def period(self) -> tuple[date, date]:
        last = self.to or clock.now().date()
        first = self.from_ or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise InvalidInput(
                "`from` must be on or before `to`", errors=[{"field": "from", "message": "after `to`"}]
            )
        if (last - first).days > MAX_DAYS:
            raise InvalidInput(
                f"the period may span at most {MAX_DAYS} days",
                errors=[{"field": "from", "message": "too early"}],
            )
        return first, last

    def report_params(self) -> dict[str, queries.ParamValue]:
        return {}


class FunnelQuery(ReportQuery):
    by: Literal["cohort", "source", "all"] = Field(
        default="cohort", description="group by first-touch month (cohort), first-touch source, or not"
    )

    def report_params(self) -> dict[str, queries.ParamValue]:
        return {"group_by": self.by}


class AttributionQuery(ReportQuery):
    dimension: Literal["channel", "utm_source", "utm_medium", "utm_campaign", "email_campaign", "journey"] = (
        Field(default="channel", description="what the SVG chart shows (JSON and CSV have every dimension)")
    )
    model: Literal["first", "last", "linear", "u-shaped"] = Field(
        default="linear", description="the credit model"
    )
    outcome: Literal["mql", "opportunity", "customer", "revenue"] = Field(
        default="revenue",
        description="what is credited: people reaching MQL, opportunity, customer, or won revenue",
    )
    lookback_days: int = Field(
        default=90, ge=1, le=365, alias="lookbackDays", description="touches counted before it"
    )

    def report_params(self) -> dict[str, queries.ParamValue]:
        return {"model": self.model, "outcome": self.outcome, "lookback_days": self.lookback_days}


class AcquisitionQuery(ReportQuery):
    pass


class WebQuery(ReportQuery):
    top: int = Field(default=20, ge=1, le=100, description="how many pages, referrers and sources")

    def report_params(self) -> dict[str, queries.ParamValue]:
        return {"top": self.top}


class PerformanceQuery(ReportQuery):
    campaign_id: str = Field(default="", alias="campaignId", max_length=200, pattern=r"^[A-Za-z0-9_.:-]*$")
    journey_id: str = Field(default="", alias="journeyId", max_length=200, pattern=r"^[A-Za-z0-9_.:-]*$")

    def report_params(self) -> dict[str, queries.ParamValue]:
        return {"campaign_id": self.campaign_id, "journey_id": self.journey_id}


QUERY_MODELS: dict[str, type[ReportQuery]] = {
    "funnel": FunnelQuery,
    "attribution": AttributionQuery,
    "acquisition": AcquisitionQuery,
    "web": WebQuery,
    "performance": PerformanceQuery,
}


def bound_params(report: str, query: ReportQuery) -> dict[str, queries.ParamValue]:
    """Every placeholder of the report's SQL, from the validated query."""
    first, last = query.period()
    lookback = FUNNEL_LOOKBACK_DAYS
    if isinstance(query, AttributionQuery):
        lookback = query.lookback_days
    values: dict[str, queries.ParamValue] = {
        "from_day": first.isoformat(),
        "to_day": last.isoformat(),
        "start_at": f"{first.isoformat()} 00:00:00",
        "end_at": f"{(last + timedelta(days=1)).isoformat()} 00:00:00",
        "touch_from_day": (first - timedelta(days=lookback)).isoformat(),
        **query.report_params(),
    }
    wanted = queries.placeholders(report)
    return {name: value for name, value in values.items() if name in wanted}


@dataclass
class ReportAnswer:
    report: str
    parameters: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]
    engine: str
    bytes_scanned: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "parameters": self.parameters,
            "engine": self.engine,
            "bytesScanned": self.bytes_scanned,
            "columns": self.columns,
            "rows": self.rows,
            "summary": self.summary,
        }

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(
                ["" if row.get(name) is None else _csv_safe(row.get(name)) for name in self.columns]
            )
        return out.getvalue()


def _csv_safe(value: Any) -> Any:
    """Cells a spreadsheet would run as a formula are quoted as text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@dataclass(frozen=True)
class Pending:
    run_id: str
    report: str
    state: str


def _public_params(query: ReportQuery) -> dict[str, Any]:
    first, last = query.period()
    dumped = query.model_dump(mode="json", by_alias=True, exclude={"format", "from_", "to"})
    return {"from": first.isoformat(), "to": last.isoformat(), **dumped}


def answer(report: str, query: ReportQuery) -> ReportAnswer | Pending:
    settings = load(ReportSettings)
    params = bound_params(report, query)
    public = _public_params(query)
    if settings.engine == "duckdb":
        from lake.store import duck  # the local stack's engine; DuckDB is not in the Lambda package

        first_day = str(params.get("touch_from_day", params.get("from_day")))
        files = duck.lake_files(settings.bucket, first_day, str(params["to_day"]))
        names, rows = duck.query(files, queries.render(report, params, "duckdb"))
        return finish(report, query, public, names, rows, engine="duckdb")
    run_id = _run_id(report, public)
    return _athena(report, query, public, params, run_id, settings)


def _run_id(report: str, public: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([report, public], sort_keys=True).encode()).hexdigest()[:32]


def _athena(  # noqa: PLR0917  # the one caller passes what it already computed
    report: str,
    query: ReportQuery,
    public: dict[str, Any],
    params: dict[str, queries.ParamValue],
    run_id: str,
    settings: ReportSettings,
) -> ReportAnswer | Pending:
    now = clock.now().timestamp()
    run = ledger.get_run(settings.main_table, run_id)
    fresh = run is not None and now - float(run["startedAt"]) < settings.cache_seconds
    if run is not None and fresh and athena.execution(str(run["executionId"])).state not in FAILED_STATES:
        execution_id = str(run["executionId"])
    else:  # none yet, stale, or failed (a failed run is not cached: the next request tries again)
        sql = queries.render(report, params, "athena", settings.database)
        window = int(now // max(settings.cache_seconds, 1))
        token = f"{run_id}-{window}"
        if run is not None and fresh:  # it failed: the same token would give back the failed query
            token += f"-{str(run['executionId'])[:36]}"
        execution_id = athena.start(
            sql, workgroup=settings.workgroup, database=settings.database, token=token
        )
        ledger.put_run(
            settings.main_table,
            run_id,
            report,
            public,
            execution_id,
            started=now,
            ttl=int(now) + settings.cache_seconds + 86_400,
        )
    return collect(report, query, public, run_id, execution_id, wait=settings.wait_seconds)


def collect(
    report: str, query: ReportQuery, public: dict[str, Any], run_id: str, execution_id: str, *, wait: float
) -> ReportAnswer | Pending:
    deadline = time.monotonic() + wait
    state = athena.execution(execution_id)
    while not state.done and time.monotonic() < deadline:
        time.sleep(0.4)
        state = athena.execution(execution_id)
    if not state.done:
        return Pending(run_id=run_id, report=report, state=state.state)
    if state.state != "SUCCEEDED":
        if "bytes scanned" in state.reason.lower():
            raise InvalidInput(
                "the report would scan more than the workgroup's per-query limit: narrow the period",
                errors=[
                    {"field": "from", "message": state.reason[:300]},
                    {"field": "to", "message": "narrow it"},
                ],
            )
        # Anything else is ours or Athena's to fix, not the caller's: a 500 with its correlation id.
        raise RuntimeError(f"Athena query {execution_id} {state.state}: {state.reason[:300]}")
    names, rows = athena.results(execution_id)
    return finish(report, query, public, names, rows, engine="athena", bytes_scanned=state.bytes_scanned)


def run_status(run_id: str) -> ReportAnswer | Pending:
    """The answer of an earlier Athena run (GET /marketing/reports/runs/{runId})."""
    settings = load(ReportSettings)
    run = ledger.get_run(settings.main_table, run_id)
    if run is None or run.get("report") not in QUERY_MODELS:
        raise NotFound(f"no report run {run_id}")
    report = str(run["report"])
    public = dict(run["params"])
    model = QUERY_MODELS[report]
    query = model.model_validate({key: value for key, value in public.items()})
    return collect(report, query, public, run_id, str(run["executionId"]), wait=0)


def finish(
    report: str,
    query: ReportQuery,
    public: dict[str, Any],
    names: list[str],
    rows: list[tuple[Any, ...]],
    *,
    engine: str,
    bytes_scanned: int | None = None,
) -> ReportAnswer:
    records = [dict(zip(names, row, strict=True)) for row in rows]
    result = ReportAnswer(report, public, list(names), records, engine, bytes_scanned)
    if report == "acquisition":
        add_spend_and_value(result, query)
    return result


def _months(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def add_spend_and_value(result: ReportAnswer, query: ReportQuery) -> None:
    """Acquisition: spend per channel and month (from the API), cost per customer, the observed
    non-renewal rate and expected lifetime, lifetime value and the value-to-cost ratio."""
    settings = load(ReportSettings)
    first, last = query.period()
    months = _months(first, last)
    spent: dict[tuple[str, str], Decimal] = {}
    for item in ledger.spends(settings.main_table, months[0], months[-1]):
        spent[(str(item["month"]), str(item["channel"]))] = Decimal(str(item["amount"]))
    ended = int(result.rows[0]["ended_contracts"] or 0) if result.rows else 0
    renewed = int(result.rows[0]["renewed_contracts"] or 0) if result.rows else 0
    non_renewal = round((ended - renewed) / ended, 4) if ended else None
    lifetime_terms = round(1 / non_renewal, 4) if non_renewal else None
    by_key = {
        (str(row["month"]), str(row["channel"])): row for row in result.rows if row["month"] is not None
    }
    rows = []
    for key in sorted(set(by_key) | set(spent)):
        row = by_key.get(key, {"month": key[0], "channel": key[1], "customers": 0, "revenue": 0.0})
        customers = int(row["customers"])
        revenue = float(row["revenue"] or 0)
        spend = float(spent.get(key, Decimal(0)))
        cost = _ratio(spend, customers)
        value = _ratio(revenue, customers)
        lifetime = round(value * lifetime_terms, 2) if value is not None and lifetime_terms else value
        rows.append(
            {
                "month": key[0],
                "channel": key[1],
                "customers": customers,
                "revenue": round(revenue, 2),
                "spend": round(spend, 2),
                "cost_per_customer": cost,
                "value_per_customer": value,
                "lifetime_value": lifetime,
                "value_to_cost": _ratio(lifetime, cost),
            }
        )
    result.rows = rows
    result.columns = (
        list(rows[0])
        if rows
        else [
            "month",
            "channel",
            "customers",
            "revenue",
            "spend",
            "cost_per_customer",
            "value_per_customer",
            "lifetime_value",
            "value_to_cost",
        ]
    )
    result.summary = {
        "endedContracts": ended,
        "renewedContracts": renewed,
        "nonRenewalRate": non_renewal,
        "expectedLifetimeTerms": lifetime_terms,
        "customers": sum(int(str(r["customers"])) for r in rows),
        "revenue": round(sum(float(str(r["revenue"])) for r in rows), 2),
        "spend": round(sum(float(str(r["spend"])) for r in rows), 2),
    }


def spend_document(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "month": item["month"],
        "channel": item["channel"],
        "amount": str(Decimal(str(item["amount"])).quantize(Decimal("0.01"))),
        "currency": item["currency"],
        "updatedAt": item.get("updatedAt"),
    }


def month_text(value: str) -> str:
    try:
        parsed = datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise InvalidInput(
            "the month must be yyyy-mm",
            errors=[{"field": "month", "message": "expected yyyy-mm, e.g. 2026-03"}],
        ) from None
    if not EARLIEST.year <= parsed.year <= LATEST.year:
        raise InvalidInput(
            "the month is out of range", errors=[{"field": "month", "message": "2000-01 to 2100-12"}]
        )
    return parsed.strftime("%Y-%m")

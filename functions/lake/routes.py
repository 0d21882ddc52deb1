"""/marketing/reports and /marketing/spend: the reports over the lake as JSON, CSV or SVG, the HTML
reports page, Athena runs still going (202 and their status URL), and marketing spend per month and
channel (what acquisition cost is computed from)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import ConfigDict, Field, field_validator

from lake import charts, page, reports
from lake.reports import (
    AcquisitionQuery,
    AttributionQuery,
    FunnelQuery,
    Pending,
    PerformanceQuery,
    ReportAnswer,
    ReportQuery,
    WebQuery,
)
from lake.settings import ReportSettings
from lake.store import ledger
from leadstream import clock
from leadstream.api import Api
from leadstream.auth import MARKETING
from leadstream.errors import InvalidInput, NotFound
from leadstream.http import JSON
from leadstream.models import Model
from leadstream.settings import load

TAG = "reports"
CSV_TYPE = "text/csv; charset=utf-8"
SVG_TYPE = "image/svg+xml"
RunIdPath = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="the run's id (from a 202's Location)")
]
MonthPath = Annotated[str, Path(pattern=r"^[0-9]{4}-[0-9]{2}$", description="yyyy-mm")]
ChannelPath = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="a channel: paid, social, email, search ...")
]
MAX_SPEND = Decimal("1000000000000")


class SpendInput(Model):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(description='what was spent, an exact decimal string such as "750.00"')
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value < 0 or value >= MAX_SPEND:
            raise ValueError("must be a finite amount from 0 to 999,999,999,999.99")
        if value != value.quantize(Decimal("0.01")):
            raise ValueError("at most two decimals")
        return value.quantize(Decimal("0.01"))


class SpendQuery(Model):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: str | None = Field(
        default=None, alias="from", pattern=r"^[0-9]{4}-[0-9]{2}$", description="first month"
    )
    to: str | None = Field(default=None, pattern=r"^[0-9]{4}-[0-9]{2}$", description="last month")


class PageQuery(Model):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: str | None = Field(default=None, alias="from", max_length=10)
    to: str | None = Field(default=None, max_length=10)
    model: Literal["first", "last", "linear", "u-shaped"] = "linear"
    outcome: Literal["mql", "opportunity", "customer", "revenue"] = "revenue"


class ReportDocument(Model):
    """A report: its parameters, the engine that ran it, its columns and rows (and a summary)."""

    report: str
    parameters: dict[str, Any]
    engine: str
    bytes_scanned: int | None = Field(alias="bytesScanned", description="Athena's; null on DuckDB")
    columns: list[str]
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


class RunPending(Model):
    """A report Athena is still running: ask `statusUrl` again (202 until it is done)."""

    run_id: str = Field(alias="runId")
    report: str
    state: str
    status_url: str = Field(alias="statusUrl")


class SpendDocument(Model):
    month: str
    channel: str
    amount: str
    currency: str
    updated_at: str | None = Field(alias="updatedAt")


class SpendList(Model):
    items: list[SpendDocument]


TEXT = {"schema": {"type": "string"}}
REPORT_CONTENT = {JSON: {"model": ReportDocument}, "text/csv": TEXT, SVG_TYPE: TEXT}
PENDING = {
    202: {
        "description": "Still running on Athena: `Location` is the run's status URL",
        "headers": {
            "Location": {"schema": {"type": "string"}},
            "Retry-After": {"schema": {"type": "string"}},
        },
        "content": {JSON: {"model": RunPending}},
    }
}


def _json(status: int, document: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(document), headers=headers or {})


def _respond(report: str, result: ReportAnswer | Pending, query: ReportQuery) -> Response[str]:
    if isinstance(result, Pending):
        location = f"/marketing/reports/runs/{result.run_id}"
        return _json(
            202,
            {"runId": result.run_id, "report": report, "state": result.state, "statusUrl": location},
            {"Location": location, "Retry-After": "2"},
        )
    if query.format == "csv":
        return Response(
            status_code=200,
            content_type=CSV_TYPE,
            body=result.csv(),
            headers={"Content-Disposition": f'attachment; filename="{report}.csv"'},
        )
    if query.format == "svg":
        dimension = query.dimension if isinstance(query, AttributionQuery) else "channel"
        return Response(status_code=200, content_type=SVG_TYPE, body=charts.render(result, dimension))
    return _json(200, result.document())


def register(api: Api) -> None:
    problems = [403, 422]

    @api.route(
        "GET",
        "/marketing/reports/funnel",
        policy=MARKETING,
        summary="The funnel: people per stage, conversion and median days in stage, by cohort or source",
        tag=TAG,
        problems=problems,
        content=REPORT_CONTENT,
        other_responses=PENDING,
    )
    def funnel_report(params: Annotated[FunnelQuery, Query()]) -> Response[str]:
        api.refuse_unknown_parameters(FunnelQuery)
        return _respond("funnel", reports.answer("funnel", params), params)

    @api.route(
        "GET",
        "/marketing/reports/attribution",
        policy=MARKETING,
        summary="Credit for MQLs, opportunities, customers or won revenue, by model",
        tag=TAG,
        problems=problems,
        content=REPORT_CONTENT,
        other_responses=PENDING,
    )
    def attribution_report(params: Annotated[AttributionQuery, Query()]) -> Response[str]:
        api.refuse_unknown_parameters(AttributionQuery)
        return _respond("attribution", reports.answer("attribution", params), params)

    @api.route(
        "GET",
        "/marketing/reports/acquisition",
        policy=MARKETING,
        summary="Cost per customer, customer value and value-to-cost, by channel and month",
        tag=TAG,
        problems=problems,
        content=REPORT_CONTENT,
        other_responses=PENDING,
    )
    def acquisition_report(params: Annotated[AcquisitionQuery, Query()]) -> Response[str]:
        api.refuse_unknown_parameters(AcquisitionQuery)
        return _respond("acquisition", reports.answer("acquisition", params), params)

    @api.route(
        "GET",
        "/marketing/reports/web",
        policy=MARKETING,
        summary="Top pages, referrers and sources; visitors who became known, MQL, customers",
        tag=TAG,
        problems=problems,
        content=REPORT_CONTENT,
        other_responses=PENDING,
    )
    def web_report(params: Annotated[WebQuery, Query()]) -> Response[str]:
        api.refuse_unknown_parameters(WebQuery)
        return _respond("web", reports.answer("web", params), params)

    @api.route(
        "GET",
        "/marketing/reports/performance",
        policy=MARKETING,
        summary="Campaign and journey email performance per day",
        tag=TAG,
        problems=problems,
        content=REPORT_CONTENT,
        other_responses=PENDING,
    )
    def performance_report(params: Annotated[PerformanceQuery, Query()]) -> Response[str]:
        api.refuse_unknown_parameters(PerformanceQuery)
        return _respond("performance", reports.answer("performance", params), params)

    @api.route(
        "GET",
        "/marketing/reports/runs/<run_id>",
        policy=MARKETING,
        summary="A report still running on Athena: 202 until done, then the report",
        tag=TAG,
        problems=[403, 404, 422],
        content=REPORT_CONTENT,
        other_responses=PENDING,
    )
    def report_run(run_id: RunIdPath) -> Response[str]:
        result = reports.run_status(run_id)
        query = ReportQuery(format="json")
        return _respond(result.report, result, query)

    @api.route(
        "GET",
        "/marketing/reports",
        policy=MARKETING,
        summary="The reports page (HTML): funnel, attribution and acquisition",
        tag=TAG,
        problems=problems,
        content={page.HTML_TYPE.split(";")[0]: TEXT},
    )
    def reports_page(params: Annotated[PageQuery, Query()]) -> Response[str]:
        api.refuse_unknown_parameters(PageQuery)
        period = {"from": params.from_, "to": params.to}
        common = {key: value for key, value in period.items() if value}
        try:
            funnel_query = FunnelQuery.model_validate({**common, "by": "all"})
            attribution_query = AttributionQuery.model_validate(
                {**common, "model": params.model, "outcome": params.outcome}
            )
            acquisition_query = AcquisitionQuery.model_validate(common)
        except ValueError as exc:
            raise InvalidInput(
                "invalid period: from and to are days (yyyy-mm-dd), from on or before to",
                errors=[{"field": "from", "message": str(exc)[:300]}],
            ) from None
        first, last = funnel_query.period()
        body = page.render(
            (first.isoformat(), last.isoformat()),
            reports.answer("funnel", funnel_query),
            reports.answer("attribution", attribution_query),
            reports.answer("acquisition", acquisition_query),
            model=params.model,
            outcome=params.outcome,
        )
        return Response(status_code=200, content_type=page.HTML_TYPE, body=body, headers=page.PAGE_HEADERS)

    @api.route(
        "PUT",
        "/marketing/spend/<month>/<channel>",
        policy=MARKETING,
        summary="Set what was spent on a channel in a month",
        tag=TAG,
        problems=[403, 422],
        content={JSON: {"model": SpendDocument}},
    )
    def put_spend(month: MonthPath, channel: ChannelPath, body: SpendInput) -> Response[str]:
        settings = load(ReportSettings)
        checked = reports.month_text(month)
        item = ledger.put_spend(
            settings.main_table,
            checked,
            channel,
            body.amount,
            body.currency,
            at=clock.now().isoformat(),
            by=api.principal().user_id,
        )
        return _json(200, reports.spend_document(item))

    @api.route(
        "GET",
        "/marketing/spend/<month>/<channel>",
        policy=MARKETING,
        summary="What was spent on a channel in a month",
        tag=TAG,
        problems=[403, 404],
        content={JSON: {"model": SpendDocument}},
    )
    def get_spend(month: MonthPath, channel: ChannelPath) -> Response[str]:
        settings = load(ReportSettings)
        item = ledger.get_spend(settings.main_table, reports.month_text(month), channel)
        if item is None:
            raise NotFound(f"no spend for {channel} in {month}")
        return _json(200, reports.spend_document(item))

    @api.route(
        "GET",
        "/marketing/spend",
        policy=MARKETING,
        summary="Spend per month and channel",
        tag=TAG,
        problems=[403, 422],
        content={JSON: {"model": SpendList}},
    )
    def list_spend(params: Annotated[SpendQuery, Query()]) -> Response[str]:
        api.refuse_unknown_parameters(SpendQuery)
        settings = load(ReportSettings)
        today = clock.now().strftime("%Y-%m")
        last = reports.month_text(params.to or today)
        first = reports.month_text(params.from_ or f"{int(last[:4]) - 1:04d}{last[4:]}")
        if first > last:
            raise InvalidInput(
                "`from` must be on or before `to`", errors=[{"field": "from", "message": "after to"}]
            )
        items = ledger.spends(settings.main_table, first, last)
        return _json(200, {"items": [reports.spend_document(item) for item in items]})

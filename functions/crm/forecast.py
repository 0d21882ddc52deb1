"""The sales forecast: deals closing in a date range, summed by period (month or quarter), owner, forecast
category and currency; unweighted (the amounts) and weighted (each amount times its probability); and
the win rate of the deals that closed (won / (won + lost)).

Amounts of different currencies are never added together: every sum is per currency. Sums are exact
(Decimal); a weighted sum is rounded once, at the end, to the currency's minor unit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ConfigDict, Field, model_validator

from crm.api.models import Slug, UserId
from crm.commerce.money import round_money
from crm.resources.deals import DEAL, Deal
from crm.resources.pipelines import ForecastCategory, StageOutcome
from crm.store import records as store
from leadstream import clock, keys
from leadstream.api import Api
from leadstream.auth import CRM_DEALS
from leadstream.errors import InvalidInput
from leadstream.models import Model

PAGE_SIZE = 500
MAX_PAGES = 100  # 50,000 deals in one forecast; beyond that, narrow it by owner or dates
MAX_DAYS = 3 * 366


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


class ForecastQuery(Model):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    period: Period = Period.QUARTER
    close_from: date | None = Field(
        default=None, alias="closeFrom", description="default: 1 January this year"
    )
    close_to: date | None = Field(default=None, alias="closeTo", description="default: 31 December this year")
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="one owner's deals; `me`")
    pipeline_id: Slug | None = Field(default=None, alias="pipelineId")

    @model_validator(mode="after")
    def _range(self) -> ForecastQuery:
        start, end = self.bounds
        if end < start:
            raise ValueError("closeTo is before closeFrom")
        if (end - start).days > MAX_DAYS:
            raise ValueError("a forecast covers at most three years")
        return self

    @property
    def bounds(self) -> tuple[date, date]:
        today = clock.today()
        return self.close_from or date(today.year, 1, 1), self.close_to or date(today.year, 12, 31)


class ForecastRow(Model):
    model_config = ConfigDict(populate_by_name=True)

    period: str = Field(description="2026-03 (month) or 2026-Q1 (quarter) of the close date")
    owner_id: str | None = Field(alias="ownerId")
    forecast_category: ForecastCategory = Field(alias="forecastCategory")
    currency: str | None = Field(description="null for deals without an amount")
    deals: int
    amount: Decimal = Field(description="unweighted: the sum of the amounts")
    weighted_amount: Decimal = Field(alias="weightedAmount", description="sum of amount x probability")


class WinRate(Model):
    model_config = ConfigDict(populate_by_name=True)

    period: str
    owner_id: str | None = Field(alias="ownerId", description="null: every owner together")
    won: int
    lost: int
    win_rate: float | None = Field(alias="winRate", description="won / (won + lost); null when none closed")


class Forecast(Model):
    model_config = ConfigDict(populate_by_name=True)

    period: Period
    close_from: date = Field(alias="closeFrom")
    close_to: date = Field(alias="closeTo")
    rows: list[ForecastRow]
    win_rates: list[WinRate] = Field(alias="winRates")


# --- the arithmetic (pure) ---------------------------------------------------------------------------------
def period_of(day: date, period: Period) -> str:
    if period is Period.MONTH:
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


@dataclass
class _Sum:
    deals: int = 0
    amount: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)


def forecast(deals: Iterable[Deal], query: ForecastQuery) -> Forecast:
    start, end = query.bounds
    sums: dict[tuple[str, str | None, ForecastCategory, str | None], _Sum] = defaultdict(_Sum)
    closed: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    for deal in deals:
        if deal.close_date is None or not start <= deal.close_date <= end:
            continue
        label = period_of(deal.close_date, query.period)
        category = deal.forecast_category or ForecastCategory.PIPELINE
        total = sums[(label, deal.owner_id, category, deal.currency if deal.amount is not None else None)]
        total.deals += 1
        if deal.amount is not None:
            total.amount += deal.amount
            total.weighted += deal.amount * (deal.probability or 0) / 100
        if deal.outcome is not StageOutcome.OPEN:
            won = deal.outcome is StageOutcome.WON
            for owner in (deal.owner_id, None):
                closed[(label, owner)][0 if won else 1] += 1
    rows = [
        ForecastRow(
            period=label,
            owner_id=owner,
            forecast_category=category,
            currency=currency,
            deals=total.deals,
            amount=total.amount,
            weighted_amount=round_money(total.weighted, currency) if currency else Decimal(0),
        )
        for (label, owner, category, currency), total in sorted(sums.items(), key=_row_order)
    ]
    rates = [
        WinRate(period=label, owner_id=owner, won=won, lost=lost, win_rate=round(won / (won + lost), 4))
        for (label, owner), (won, lost) in sorted(
            closed.items(), key=lambda item: (item[0][0], item[0][1] or "")
        )
    ]
    return Forecast(period=query.period, close_from=start, close_to=end, rows=rows, win_rates=rates)


def _row_order(item: tuple[tuple[str, str | None, ForecastCategory, str | None], _Sum]) -> tuple[str, ...]:
    (label, owner, category, currency), _ = item
    return label, owner or "", f"{list(ForecastCategory).index(category)}", currency or ""


# --- reading the deals -----------------------------------------------------------------------------------
def deals_closing(query: ForecastQuery, owner_id: str | None) -> Iterator[Deal]:
    """Every deal whose close date is in range: the close-date index of all deals or of one owner, page by
    page (a key range, never a scan)."""
    start, end = query.bounds
    index, partition = keys.record_list_partition(DEAL.kind, owner_id=owner_id)
    filters = {"pipelineId": query.pipeline_id} if query.pipeline_id else {}
    cursor = None
    for _ in range(MAX_PAGES):
        list_query = store.ListQuery(
            index,
            partition,
            sort_from=start.isoformat(),
            sort_to=end.isoformat(),
            newest_first=False,
            filters=filters,
            limit=PAGE_SIZE,
            cursor=cursor,
        )
        page = store.list_records(DEAL, list_query)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return

    raise InvalidInput("Too many deals for one forecast; narrow it by owner or close dates.")


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/crm/forecast",
        policy=CRM_DEALS,
        summary="Forecast: pipeline by period, owner and category, weighted and unweighted; win rates",
        tag="forecast",
        problems=[400],
    )
    def get_forecast(params: Annotated[ForecastQuery, Query()]) -> Forecast:
        api.refuse_unknown_parameters(ForecastQuery)
        principal = api.principal()
        owner = principal.user_id if params.owner_id == "me" else params.owner_id
        return forecast(deals_closing(params, owner), params)

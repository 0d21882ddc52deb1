"""The reports page: funnel, attribution and acquisition for one period, as charts and as tables, one
HTML document with no script (served behind the same authorizer as the API)."""

from __future__ import annotations

from html import escape
from typing import Any

from lake import charts
from lake.reports import Pending, ReportAnswer

HTML_TYPE = "text/html; charset=utf-8"
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_STYLE = (
    "body{font-family:system-ui,Arial,sans-serif;margin:0;background:#fafafa;color:#222}"
    "header{background:#1565c0;color:#fff;padding:1rem 2rem}main{padding:1rem 2rem;max-width:72rem}"
    "section{background:#fff;margin:1rem 0;padding:1rem;border-radius:6px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.1)}"
    "table{border-collapse:collapse;margin-top:.5rem}td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;"
    "text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}"
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return escape(str(value))


def _table(report: str, answer: ReportAnswer, columns: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in answer.rows:
        cells = "".join(
            f'<td data-column="{escape(c)}" class="{"n" if isinstance(row.get(c), (int, float)) else ""}">'
            f"{_cell(row.get(c))}</td>"
            for c in columns
        )
        body.append(f"<tr>{cells}</tr>")
    return f'<table id="{report}-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _section(report: str, title: str, answer: ReportAnswer | Pending, columns: list[str], link: str) -> str:
    if isinstance(answer, Pending):
        inner = f"<p>Still running ({escape(answer.state)}); reload the page in a moment.</p>"
    else:
        inner = charts.render(answer) + _table(report, answer, columns)
    return (
        f'<section id="{report}"><h2>{escape(title)}</h2>{inner}'
        f'<p><a href="{escape(link)}&amp;format=csv">CSV</a> · '
        f'<a href="{escape(link)}">JSON</a></p></section>'
    )


def render(
    period: tuple[str, str],
    funnel: ReportAnswer | Pending,
    attribution: ReportAnswer | Pending,
    acquisition: ReportAnswer | Pending,
    *,
    model: str,
    outcome: str,
) -> str:
    first, last = period
    span = f"from={first}&to={last}"
    attribution_rows = attribution
    if isinstance(attribution, ReportAnswer):
        attribution_rows = ReportAnswer(
            attribution.report,
            attribution.parameters,
            attribution.columns,
            [row for row in attribution.rows if row.get("dimension") == "channel"],
            attribution.engine,
        )
    sections = [
        _section(
            "funnel",
            "Funnel",
            funnel,
            ["group", "stage", "people", "conversion_rate", "median_days_in_stage"],
            f"/marketing/reports/funnel?{span}&by=all",
        ),
        _section(
            "attribution",
            f"Attribution: {outcome}, {model}",
            attribution_rows,
            ["value", "credit", "people"],
            f"/marketing/reports/attribution?{span}&model={model}&outcome={outcome}",
        ),
        _section(
            "acquisition",
            "Acquisition: cost and value per customer",
            acquisition,
            [
                "month",
                "channel",
                "customers",
                "revenue",
                "spend",
                "cost_per_customer",
                "lifetime_value",
                "value_to_cost",
            ],
            f"/marketing/reports/acquisition?{span}",
        ),
    ]
    form = (
        '<form method="get" action="/marketing/reports">'
        f'<label>From <input type="date" name="from" value="{escape(first)}"></label> '
        f'<label>To <input type="date" name="to" value="{escape(last)}"></label> '
        f'<button type="submit">Show</button></form>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Leadstream reports</title>"
        f"<style>{_STYLE}</style></head><body><header><h1>Reports</h1>"
        f"<p>{escape(first)} to {escape(last)}</p></header>"
        f"<main>{form}{''.join(sections)}</main></body></html>"
    )

"""Each report as a picture: a horizontal bar chart in SVG, drawn from the report's own rows (no
library, no script). Every bar carries its label and number as text, and `data-label` / `data-value`
attributes, so what a person reads is what a test reads."""

from __future__ import annotations

from html import escape
from typing import Any

from lake.reports import ReportAnswer

WIDTH = 640
BAR_HEIGHT = 22
GAP = 6
LABEL_WIDTH = 200
TOP = 34
COLORS = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#00838f")


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(title: str, bars: list[tuple[str, float]], *, series: str = "") -> str:
    largest = max((abs(value) for _, value in bars), default=0.0) or 1.0
    height = TOP + len(bars) * (BAR_HEIGHT + GAP) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="system-ui, Arial, sans-serif" font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    if not bars:
        parts.append(f'<text x="0" y="{TOP + 14}" fill="#666">No data in this period.</text>')
    for index, (label, value) in enumerate(bars):
        y = TOP + index * (BAR_HEIGHT + GAP)
        width = max(1.0, (WIDTH - LABEL_WIDTH - 90) * abs(value) / largest)
        color = COLORS[index % len(COLORS)]
        parts.append(
            f'<g class="bar" data-series="{escape(series)}" data-label="{escape(label)}" '
            f'data-value="{value}">'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">{escape(label[:32])}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" fill="{color}"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 15}">{_number(value)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _sum_by(rows: list[dict[str, Any]], key: str, value: str) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for row in rows:
        label = str(row.get(key) if row.get(key) is not None else "(none)")
        totals[label] = totals.get(label, 0.0) + float(row.get(value) or 0)
    return list(totals.items())


def bars(answer: ReportAnswer, dimension: str = "channel") -> tuple[str, list[tuple[str, float]]]:
    """The chart's title and bars for a report."""
    rows = answer.rows
    if answer.report == "funnel":
        ordered = sorted(rows, key=lambda row: int(row.get("stage_rank") or 0))
        return "People reaching each stage", _sum_by(ordered, "stage", "people")
    if answer.report == "attribution":
        chosen = [row for row in rows if row.get("dimension") == dimension]
        outcome = answer.parameters.get("outcome", "")
        model = answer.parameters.get("model", "")
        return f"Credit for {outcome} by {dimension} ({model})", [
            (str(r["value"]), float(r["credit"])) for r in chosen
        ]
    if answer.report == "acquisition":
        return "Lifetime value per customer, by channel", [
            (f"{r['channel']} {r['month']}", float(r["lifetime_value"] or 0)) for r in rows
        ]
    if answer.report == "web":
        return "Top pages (views)", [
            (str(r["value"]), float(r["views"])) for r in rows if r["section"] == "page"
        ]
    return "Emails sent per day", _sum_by(rows, "date", "sends")


def render(answer: ReportAnswer, dimension: str = "channel") -> str:
    title, found = bars(answer, dimension)
    return bar_chart(title, found, series=answer.report)

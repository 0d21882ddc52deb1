"""Each report's numbers on the hand-checked lake (tests/lake_data.py), every row delivered twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlglot
from lake_data import PERIOD, lake_rows_by_table
from lake_files import write_parquet

from lake import queries, reports
from lake.store import duck


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("lake")
    rows = lake_rows_by_table()
    first = write_parquet(rows, root, name="first")
    again = write_parquet(rows, root, name="redelivered")  # the same rows again: a redelivery
    return {table: first[table] + again[table] for table in first}


def run(files: dict[str, list[str]], report: str, **params: Any) -> list[dict[str, Any]]:
    query = reports.QUERY_MODELS[report].model_validate({**PERIOD, **params})
    names, rows = duck.query(files, queries.render(report, reports.bound_params(report, query), "duckdb"))
    return [dict(zip(names, row, strict=True)) for row in rows]


def test_funnel_all(files: dict[str, list[str]]) -> None:
    rows = run(files, "funnel", by="all")
    got = [
        (r["stage"], r["people"], r["moved_on"], r["conversion_rate"], r["median_days_in_stage"])
        for r in rows
    ]
    assert got == [
        ("lead", 3, 2, 0.6667, 5.0),  # P1 and P2 became MQL 5 days after lead; P3 did not
        ("marketing-qualified", 2, 1, 0.5, 4.0),  # P1's deal opened 4 days after MQL
        ("opportunity", 1, 1, 1.0, 10.0),  # won 10 days after it opened
        ("customer", 1, 0, 0.0, None),
    ]


def test_funnel_by_cohort_and_source(files: dict[str, list[str]]) -> None:
    cohorts = {(r["group"], r["stage"]): r["people"] for r in run(files, "funnel", by="cohort")}
    assert cohorts == {
        ("2026-02", "lead"): 1, ("2026-02", "marketing-qualified"): 1, ("2026-02", "opportunity"): 1,
        ("2026-02", "customer"): 1, ("2026-03", "lead"): 1, ("2026-03", "marketing-qualified"): 1,
        ("(no touch)", "lead"): 1,
    }  # fmt: skip
    sources = {(r["group"], r["stage"]): r["people"] for r in run(files, "funnel", by="source")}
    assert sources[("google", "customer")] == 1
    assert sources[("linkedin", "lead")] == 1
    assert sources[("(direct)", "lead")] == 1


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first", {"paid": 1200.0}),
        ("last", {"email": 1200.0}),
        ("linear", {"paid": 400.0, "referral": 400.0, "email": 400.0}),
        ("u-shaped", {"paid": 480.0, "referral": 240.0, "email": 480.0}),
    ],
)
def test_attribution_of_won_revenue(
    files: dict[str, list[str]], model: str, expected: dict[str, float]
) -> None:
    rows = run(files, "attribution", model=model, outcome="revenue")
    assert {r["value"]: r["credit"] for r in rows if r["dimension"] == "channel"} == expected
    campaigns = {r["value"]: r["credit"] for r in rows if r["dimension"] == "email_campaign"}
    assert campaigns.get("c1", 0.0) == expected.get("email", 0.0)


def test_attribution_of_mqls_linear(files: dict[str, list[str]]) -> None:
    rows = run(files, "attribution", model="linear", outcome="mql")
    channels = {r["value"]: r["credit"] for r in rows if r["dimension"] == "channel"}
    assert channels == {"social": 1.0, "paid": 0.3333, "referral": 0.3333, "email": 0.3333}
    sources = {r["value"]: r["credit"] for r in rows if r["dimension"] == "utm_source"}
    assert sources == {"linkedin": 1.0, "google": 0.3333, "email": 0.3333, "(none)": 0.3333}


def test_attribution_of_opportunities_and_customers_first_touch(files: dict[str, list[str]]) -> None:
    for outcome in ("opportunity", "customer"):
        rows = run(files, "attribution", model="first", outcome=outcome)
        assert {r["value"]: r["credit"] for r in rows if r["dimension"] == "channel"} == {"paid": 1.0}


def test_a_short_lookback_leaves_older_touches_out(files: dict[str, list[str]]) -> None:
    rows = run(files, "attribution", model="first", outcome="revenue", lookbackDays=20)
    assert {r["value"]: r["credit"] for r in rows if r["dimension"] == "channel"} == {"referral": 1200.0}


def test_acquisition_rows(files: dict[str, list[str]]) -> None:
    (row,) = run(files, "acquisition")
    # P1 became a customer in March via paid; won 1,200 plus an order of 300 without a deal.
    assert row == {"month": "2026-03", "channel": "paid", "customers": 1, "revenue": 1500.0,
                   "ended_contracts": 2, "renewed_contracts": 1}  # fmt: skip


def test_web(files: dict[str, list[str]]) -> None:
    rows = {(r["section"], r["value"]): (r["views"], r["visitors"]) for r in run(files, "web")}
    assert rows == {
        ("page", "/"): (2, 2), ("page", "/landing"): (1, 1), ("page", "/pricing"): (1, 1),
        ("referrer", "news.example.org"): (1, 1), ("utm_source", "linkedin"): (1, 1),
        ("visitors", "visitors"): (3, 3), ("visitors", "known"): (2, 2), ("visitors", "mql"): (2, 2),
        ("visitors", "customers"): (1, 1),
    }  # fmt: skip


def test_web_counts_a_view_once_however_often_only_it_was_redelivered(tmp_path: Path) -> None:
    """Copies of some views only (one twice more, one once more), beside views delivered once: the same
    report as the fixture's every-row-twice lake."""
    rows = lake_rows_by_table()
    views = [row for row in rows["events"] if row["type"] == "page"]
    assert len(views) >= 2
    once = write_parquet(rows, tmp_path, name="first")
    again = write_parquet({"events": [views[0], views[1]]}, tmp_path, name="again")
    third = write_parquet({"events": [views[0]]}, tmp_path, name="third")
    files = {table: once[table] + again[table] + third[table] for table in once}
    assert run(files, "web") == run(files | {"events": once["events"]}, "web")
    assert {(r["section"], r["value"], r["views"]) for r in run(files, "web")} >= {("page", "/", 2)}


def test_performance(files: dict[str, list[str]]) -> None:
    rows = [tuple(r.values()) for r in run(files, "performance")]
    assert rows == [("2026-03-04", "c1", "", 2, 0, 0, 0), ("2026-03-05", "c1", "", 0, 1, 1, 0)]
    assert run(files, "performance", campaignId="other") == []


def test_a_period_without_data_is_empty_not_an_error(files: dict[str, list[str]]) -> None:
    for report in queries.REPORTS:
        rows = run(files, report, **{"from": "2024-01-01", "to": "2024-01-31"})
        assert all(r.get("customers") in (None, 0) for r in rows if report in ("web", "acquisition"))


@pytest.mark.parametrize("report", queries.REPORTS)
def test_every_report_translates_to_athena(report: str) -> None:
    query = reports.QUERY_MODELS[report].model_validate(PERIOD)
    sql = queries.render(report, reports.bound_params(report, query), "athena", "leadstream_dev_lake")
    tree = sqlglot.parse_one(sql, read="athena")
    tables = {(t.db, t.name) for t in tree.find_all(sqlglot.exp.Table) if t.db}
    assert tables <= {("leadstream_dev_lake", "events"), ("leadstream_dev_lake", "changes")}
    assert tables
    assert "ARG_MAX" not in sql
    assert "STRFTIME" not in sql
    assert "EPOCH(" not in sql
    assert ":" + "start_at" not in sql


def test_a_report_with_no_lake_files_runs(tmp_path: Path) -> None:
    for report in queries.REPORTS:
        run({}, report)


def test_the_csv_of_a_report_quotes_formulas() -> None:
    answer = reports.ReportAnswer(
        "web", {}, ["value", "views"], [{"value": "=HYPERLINK(1)", "views": 1}], "duckdb"
    )
    assert answer.csv() == "value,views\r\n'=HYPERLINK(1),1\r\n"

"""Deals through pipelines: stages, their defaults and history, exact amounts, closing; and the forecast."""

from __future__ import annotations

from typing import Any

import pytest
from crm_support import Crm

ENTERPRISE = {
    "pipelineId": "enterprise",
    "name": "Enterprise",
    "stages": [
        {"stageId": "intro", "name": "Intro call", "probability": 5},
        {"stageId": "pilot", "name": "Pilot", "probability": 50, "forecastCategory": "best_case"},
        {"stageId": "signed", "name": "Signed", "probability": 90, "outcome": "won"},
        {"stageId": "gone", "name": "Lost", "probability": 30, "outcome": "lost"},
    ],
}


def deal(crm: Crm, **fields: Any) -> dict[str, Any]:
    return crm.created("/crm/deals", {"name": "Deal", **fields})


def test_a_new_deal_starts_in_the_first_stage_with_its_defaults(sales: Crm) -> None:
    created = deal(sales, amount="12500.00", currency="eur", closeDate="2026-12-15")

    assert (created["pipelineId"], created["stageId"], created["outcome"]) == (
        "standard",
        "qualification",
        "open",
    )
    assert (created["probability"], created["forecastCategory"]) == (10, "pipeline")
    assert (created["amount"], created["currency"]) == ("12500.00", "EUR")
    assert [entry["stageId"] for entry in created["stageHistory"]] == ["qualification"]


def test_moving_stages_keeps_history_and_takes_the_stage_defaults(sales: Crm) -> None:
    created = deal(sales)
    path = f"/crm/deals/{created['dealId']}"

    own_guess = sales.ok(sales.patch(path, {"probability": 35}, if_match='"1"'))
    moved = sales.ok(sales.patch(path, {"stageId": "negotiation"}, if_match='"2"'))
    moved_with_override = sales.ok(
        sales.patch(path, {"stageId": "proposal", "forecastCategory": "commit"}, if_match='"3"')
    )

    assert own_guess["probability"] == 35  # a rep's own number, until the next move
    assert (moved["probability"], moved["forecastCategory"]) == (80, "commit")
    assert (moved_with_override["probability"], moved_with_override["forecastCategory"]) == (60, "commit")
    history = moved_with_override["stageHistory"]
    assert [entry["stageId"] for entry in history] == ["qualification", "negotiation", "proposal"]
    assert all(entry["enteredAt"] and entry["by"] == created["createdBy"] for entry in history)
    assert history[0]["enteredAt"] < history[1]["enteredAt"] < history[2]["enteredAt"]


def test_won_and_lost_close_the_deal(sales: Crm) -> None:
    won = deal(sales, stageId="won")
    lost = deal(sales)

    closed_lost = sales.ok(sales.patch(f"/crm/deals/{lost['dealId']}", {"stageId": "lost"}, if_match='"1"'))
    reopened = sales.ok(sales.patch(f"/crm/deals/{lost['dealId']}", {"stageId": "demo"}, if_match='"2"'))

    assert (won["outcome"], won["probability"], won["forecastCategory"]) == ("won", 100, "closed")
    assert won["closedAt"] is not None
    assert (closed_lost["outcome"], closed_lost["probability"], closed_lost["forecastCategory"]) == (
        "lost",
        0,
        "omitted",
    )
    assert (reopened["outcome"], reopened["closedAt"], reopened["probability"]) == ("open", None, 40)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 10.5, "currency": "EUR"}, "amount"),  # a JSON number with a fraction may have lost a cent
        ({"amount": "10.005", "currency": "EUR"}, "amount"),
        ({"amount": "10.5", "currency": "JPY"}, "amount"),
        ({"amount": "10.00"}, "amount"),
        ({"amount": "10.00", "currency": "XXX"}, "currency"),
        ({"stageId": "no-such-stage"}, "stageId"),
        ({"pipelineId": "no-such-pipeline"}, "pipelineId"),
        ({"accountId": "no-such-account"}, "accountId"),
    ],
)
def test_refused_deals_say_which_field_is_wrong(sales: Crm, fields: dict[str, Any], field: str) -> None:
    reply = sales.post("/crm/deals", {"name": "Deal", **fields})

    assert reply.status == 422
    assert field in {error["field"] for error in reply.json()["errors"]}


def test_admins_define_pipelines(admin: Crm, sales: Crm) -> None:
    assert sales.post("/crm/pipelines", ENTERPRISE).status == 403
    no_won_stage = {**ENTERPRISE, "stages": ENTERPRISE["stages"][:2]}
    assert admin.post("/crm/pipelines", no_won_stage).status == 422

    pipeline = admin.created("/crm/pipelines", ENTERPRISE)
    signed = deal(sales, pipelineId="enterprise", stageId="signed")

    assert pipeline["pipelineId"] == "enterprise"
    assert pipeline["stages"][3]["probability"] == 0  # a lost stage is certain, whatever was sent
    assert (signed["outcome"], signed["probability"]) == ("won", 100)
    assert admin.post("/crm/pipelines", ENTERPRISE).status == 409
    assert {p["pipelineId"] for p in sales.ok(sales.get("/crm/pipelines"))["items"]} == {
        "enterprise",
        "standard",
    }


def test_deal_lists_by_close_date_stage_and_owner(sales: Crm, crm_as: Any) -> None:
    other = crm_as("sales", "otto")
    deal(sales, name="March", closeDate="2026-03-10")
    deal(sales, name="April demo", closeDate="2026-04-02", stageId="demo")
    deal(other, name="Theirs", closeDate="2026-03-20")

    def names(query: str) -> list[str]:
        return [d["name"] for d in sales.ok(sales.get("/crm/deals", query=query))["items"]]

    assert names("closeFrom=2026-03-01&closeTo=2026-03-31") == ["Theirs", "March"]  # latest close first
    assert names("ownerId=me&closeFrom=2026-03-01&closeTo=2026-03-31") == ["March"]
    assert names("stageId=demo") == ["April demo"]


def test_forecast_by_quarter_owner_and_category(sales: Crm, crm_as: Any) -> None:
    other = crm_as("sales", "otto")
    deal(sales, amount="1000.00", currency="EUR", closeDate="2026-01-15", stageId="proposal")  # 60 %
    deal(sales, amount="333.33", currency="EUR", closeDate="2026-02-01", stageId="proposal")  # 60 %
    deal(sales, amount="500.00", currency="USD", closeDate="2026-03-01", stageId="proposal")
    deal(sales, amount="2000.00", currency="EUR", closeDate="2026-02-10", stageId="won")
    deal(sales, amount="700.00", currency="EUR", closeDate="2026-03-10", stageId="lost")
    deal(other, amount="100.00", currency="EUR", closeDate="2026-05-05", stageId="negotiation")  # 80 %
    deal(sales, amount="9.99", currency="EUR", closeDate="2027-01-01")  # outside the range

    forecast = sales.ok(
        sales.get("/crm/forecast", query="period=quarter&closeFrom=2026-01-01&closeTo=2026-12-31")
    )

    me = sales.ok(sales.get("/crm/deals", query="limit=1"))["items"][0]["ownerId"]
    rows = {
        (row["period"], row["ownerId"] == me, row["forecastCategory"], row["currency"]): (
            row["deals"],
            row["amount"],
            row["weightedAmount"],
        )
        for row in forecast["rows"]
    }
    assert rows == {
        ("2026-Q1", True, "best_case", "EUR"): (2, "1333.33", "800.00"),  # 599.998 rounds once, at the end
        ("2026-Q1", True, "best_case", "USD"): (1, "500.00", "300.00"),
        ("2026-Q1", True, "closed", "EUR"): (1, "2000.00", "2000.00"),
        ("2026-Q1", True, "omitted", "EUR"): (1, "700.00", "0.00"),
        ("2026-Q2", False, "commit", "EUR"): (1, "100.00", "80.00"),
    }
    rates = {(rate["period"], rate["ownerId"]): rate for rate in forecast["winRates"]}
    assert (rates[("2026-Q1", None)]["won"], rates[("2026-Q1", None)]["lost"]) == (1, 1)
    assert rates[("2026-Q1", me)]["winRate"] == 0.5

    mine_by_month = sales.ok(sales.get("/crm/forecast", query="period=month&ownerId=me&closeFrom=2026-01-01"))
    assert {row["period"] for row in mine_by_month["rows"]} == {"2026-01", "2026-02", "2026-03"}
    assert sales.get("/crm/forecast", query="closeFrom=2026-05-01&closeTo=2026-01-01").status == 422

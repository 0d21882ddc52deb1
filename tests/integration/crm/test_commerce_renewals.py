"""The daily renewal job on moto: due contracts get exactly one renewal deal, found without a Scan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from commerce_support import Client, accepted_order, in_days, new_account, new_product, quote_body, scheduled

from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate


@pytest.fixture
def rep(call_api: Call, token_for: Callable[..., str]) -> Client:
    return Client(call_api, token_for("sales", "sam"))


def contract_ending(rep: Client, boss: Client, days: int, name: str) -> dict[str, Any]:
    product = new_product(boss, sku=f"SKU-{name}")
    account = new_account(rep, name)
    quote = rep.ok("POST", "/crm/quotes", quote_body(account["accountId"], product["productId"]), status=201)
    order = accepted_order(rep, quote)
    body = {"name": name, "startDate": in_days(0), "endDate": in_days(days)}
    return rep.ok("POST", f"/crm/orders/{order['orderId']}/contract", body, status=201)  # type: ignore[no-any-return]


def dynamodb_operations() -> list[str]:
    """Record every DynamoDB operation the functions' shared client makes from now on."""
    from leadstream.aws import dynamodb

    seen: list[str] = []
    dynamodb().meta.events.register(
        "before-call.dynamodb", lambda model, **_: seen.append(model.name), unique_id="commerce-test"
    )
    return seen


def test_a_contract_inside_its_lead_time_gets_one_renewal_deal(
    aws: StackTemplate, rep: Client, call_api: Call, token_for: Callable[..., str]
) -> None:
    boss = Client(call_api, token_for("admin", "ada"))
    due = contract_ending(rep, boss, 30, "Due")  # default lead time 60 days: due today
    later = contract_ending(rep, boss, 300, "Later")
    run = scheduled(aws, "RenewalFunction")
    operations = dynamodb_operations()

    first = run()
    assert (first["renewalsCreated"], first["renewalsExisting"], first["refused"]) == (1, 0, 0)
    assert "Scan" not in operations
    assert "Query" in operations

    renewed = rep.ok("GET", f"/crm/contracts/{due['contractId']}")
    deal = rep.ok("GET", f"/crm/deals/{renewed['renewalDealId']}")
    assert (deal["name"], deal["amount"], deal["currency"], deal["closeDate"]) == (
        "Renewal: Due",
        due["value"],
        "EUR",
        due["endDate"],
    )
    assert (deal["accountId"], deal["ownerId"], deal["customFields"]) == (
        due["accountId"],
        due["ownerId"],
        {"renewalOf": due["contractId"]},
    )
    assert rep.ok("GET", f"/crm/contracts/{later['contractId']}")["renewalDealId"] is None

    again = run()
    assert (again["renewalsCreated"], again["renewalsExisting"]) == (0, 0)
    deals = rep.ok("GET", "/crm/deals", query=f"accountId={due['accountId']}")["items"]
    assert [d["dealId"] for d in deals] == [renewed["renewalDealId"]]


def test_a_timer_left_from_a_missed_month_is_still_found(
    aws: StackTemplate, rep: Client, call_api: Call, token_for: Callable[..., str]
) -> None:
    """The job did not run for weeks: a timer due last month is picked up by the look-back."""
    from leadstream import keys

    boss = Client(call_api, token_for("admin", "ada"))
    contract = contract_ending(rep, boss, 200, "Missed")
    overdue = in_days(-40)
    boto3.client("dynamodb").put_item(
        TableName=aws.physical["MainTable"]["Ref"],
        Item={
            **{name: {"S": value} for name, value in keys.contract_timer_key(contract["contractId"]).items()},
            **{
                name: {"S": value}
                for name, value in keys.contract_timer_index(overdue, contract["contractId"]).items()
            },
            "contractId": {"S": contract["contractId"]},
            "action": {"S": "renew"},
            "due": {"S": overdue},
        },
    )
    # Early according to the contract (its renewal is due in 140 days): woken, nothing made, put back.
    summary = scheduled(aws, "RenewalFunction")()
    assert (summary["renewalsCreated"], summary["rescheduled"]) == (0, 1)
    assert rep.ok("GET", f"/crm/contracts/{contract['contractId']}")["renewalDealId"] is None


def test_shortening_a_contract_brings_its_renewal_forward(
    aws: StackTemplate, rep: Client, call_api: Call, token_for: Callable[..., str]
) -> None:
    boss = Client(call_api, token_for("admin", "ada"))
    contract = contract_ending(rep, boss, 300, "Shortened")
    path = f"/crm/contracts/{contract['contractId']}"
    run = scheduled(aws, "RenewalFunction")
    assert run()["renewalsCreated"] == 0
    rep.ok("PATCH", path, {"endDate": in_days(20)}, headers=[("if-match", '"1"')])
    assert run()["renewalsCreated"] == 1
    assert rep.ok("GET", path)["renewalDealId"]

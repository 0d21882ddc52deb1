"""Numbers DynamoDB cannot hold, sent to the CRM API: a 422 naming the field, and nothing stored. JSON as
a client may send it (Python's own parser reads `1e999` as infinity and accepts `NaN`), so raw bodies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from crm_support import Crm

JSON = [("content-type", "application/json")]


def raw_post(crm: Crm, path: str, body: str) -> tuple[int, dict[str, object], str]:
    reply = crm.request("POST", path, body.encode(), headers=JSON)
    return reply.status, reply.json(), reply.headers.get("content-type", "")


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("1e300", "too large"),
        ("-1e-300", "too small"),
        ("5e-324", "too small"),
        ("1e999", "finite"),
        ("NaN", "finite"),
        ("123456789012345678901234567890123456789012", "38 significant digits"),
    ],
)
def test_an_unstorable_custom_field_is_a_422_at_its_path(sales: Crm, number: str, says: str) -> None:
    status, problem, content_type = raw_post(
        sales, "/crm/accounts", f'{{"name": "Acme", "customFields": {{"region": "EU", "seats": {number}}}}}'
    )
    assert (status, content_type) == (422, "application/problem+json")
    assert [error["field"] for error in problem["errors"]] == ["customFields.seats"]  # type: ignore[attr-defined]
    assert says in problem["errors"][0]["message"]  # type: ignore[index]
    assert sales.ok(sales.get("/crm/accounts"))["items"] == []


def test_a_patch_with_an_unstorable_custom_field_changes_nothing(sales: Crm) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme", "customFields": {"seats": 5}})
    path = f"/crm/accounts/{account['accountId']}"
    reply = sales.request(
        "PATCH", path, b'{"customFields": {"seats": 1e200}}', headers=[*JSON, ("if-match", '"1"')]
    )
    assert reply.status == 422
    assert [error["field"] for error in reply.json()["errors"]] == ["customFields.seats"]
    assert sales.ok(sales.get(path))["customFields"] == {"seats": 5}


def test_large_numbers_dynamodb_holds_are_stored_exactly(sales: Crm) -> None:
    fields = {"seats": 10**40, "digits": int("9" * 38), "tiny": 1e-130, "huge": 9.5e125}
    account = sales.created("/crm/accounts", {"name": "Acme", "customFields": fields})
    stored = sales.ok(sales.get(f"/crm/accounts/{account['accountId']}"))["customFields"]
    # A whole number comes back as a JSON integer (95 and 124 zeros): the same number.
    assert stored == {**fields, "huge": int(Decimal("9.5E+125"))}


@pytest.mark.parametrize("amount", ["1E+100000000", "1E+41"])
def test_a_deal_amount_with_a_huge_exponent_is_a_422(sales: Crm, amount: str) -> None:
    reply = sales.post("/crm/deals", {"name": "Deal", "currency": "EUR", "amount": amount})
    assert reply.status == 422
    assert reply.json()["errors"] == [
        {"field": "amount", "message": "Input should be less than or equal to 1000000000000"}
    ]
    assert sales.ok(sales.get("/crm/deals"))["items"] == []


def test_a_deal_custom_field_and_product_price_are_checked_too(sales: Crm, admin: Crm) -> None:
    status, problem, _ = raw_post(sales, "/crm/deals", '{"name": "Deal", "customFields": {"risk": -1e400}}')
    assert status == 422
    assert [error["field"] for error in problem["errors"]] == ["customFields.risk"]  # type: ignore[attr-defined]
    priced = admin.post("/crm/products", {"sku": "SEAT", "name": "Seat", "prices": {"EUR": "1E+60"}})
    assert priced.status == 422
    assert [error["field"] for error in priced.json()["errors"]] == ["prices.EUR"]

"""Idempotency-Key on creates: a retry returns the first response and never makes a second record."""

from __future__ import annotations

from typing import Any

from crm_support import Crm


def _accounts(crm: Crm) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = crm.ok(crm.get("/crm/accounts"))["items"]
    return items


def test_the_same_key_twice_makes_one_record_and_the_same_response(sales: Crm) -> None:
    first = sales.post("/crm/accounts", {"name": "Acme"}, key="create-acme-1")
    second = sales.post("/crm/accounts", {"name": "Acme"}, key="create-acme-1")

    assert first.status == second.status == 201
    assert first.body == second.body
    assert (first.headers["etag"], first.headers["location"]) == (
        second.headers["etag"],
        second.headers["location"],
    )
    assert len(_accounts(sales)) == 1


def test_the_same_key_with_another_body_is_refused(sales: Crm) -> None:
    sales.post("/crm/accounts", {"name": "Acme"}, key="k-1")

    reply = sales.post("/crm/accounts", {"name": "Other"}, key="k-1")

    assert reply.status == 422
    assert "Idempotency-Key" in reply.json()["detail"]
    assert [account["name"] for account in _accounts(sales)] == ["Acme"]


def test_keys_belong_to_their_user(sales: Crm, crm_as: Any) -> None:
    other = crm_as("sales", "otto")

    mine = sales.post("/crm/accounts", {"name": "Acme"}, key="shared-key")
    theirs = other.post("/crm/accounts", {"name": "Acme"}, key="shared-key")

    assert mine.json()["accountId"] != theirs.json()["accountId"]
    assert len(_accounts(sales)) == 2


def test_a_retry_after_the_response_was_lost_finds_the_stored_record(sales: Crm) -> None:
    """The function stored the record and died before the idempotency record was completed: the retry
    must not create a second record (the id is derived from the key)."""
    import boto3

    first = sales.post(
        "/crm/deals", {"name": "Big deal", "amount": "100.00", "currency": "EUR"}, key="deal-1"
    )
    table = __import__("os").environ["IDEMPOTENCY_TABLE"]
    client = boto3.client("dynamodb")
    for item in client.scan(TableName=table)["Items"]:  # the test may scan; the API never does
        client.delete_item(TableName=table, Key={"id": item["id"]})

    retry = sales.post(
        "/crm/deals", {"name": "Big deal", "amount": "100.00", "currency": "EUR"}, key="deal-1"
    )

    assert retry.status == 201
    assert retry.json()["dealId"] == first.json()["dealId"]
    assert len(sales.ok(sales.get("/crm/deals"))["items"]) == 1


def test_a_malformed_key_is_refused(sales: Crm) -> None:
    reply = sales.post("/crm/accounts", {"name": "Acme"}, key="has spaces in it")

    assert reply.status == 422
    assert _accounts(sales) == []

"""A person's access export on moto: everything held about them, from every domain, as one document."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from customerdata_support import run_import
from scoring_support import Stream, tracked

from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate


@pytest.fixture
def token(token_for: Callable[..., str]) -> str:
    return token_for("marketing")


def test_the_document_holds_the_profile_identities_events_and_merges(
    aws: StackTemplate, call_api: Call, token: str
) -> None:
    stream = Stream(aws, store_events=True)
    stream.deliver([tracked("page", anonymousId="anon-42", name="Pricing", properties={"path": "/pricing"})])
    stream.deliver([tracked("identify", userId="u-42", traits={"email": "Kim@Example.com", "name": "Kim"})])
    stream.deliver([tracked("track", userId="u-42", anonymousId="anon-42", event="Signed Up")])
    run_import(
        aws, call_api, token,
        b"Email,Event,Timestamp,Store\nkim@example.com,Order Completed,2025-05-01,Berlin\n",
        kind="events", file_name="pos.csv",
    )  # fmt: skip

    reply = call_api("POST", "/marketing/privacy/exports", body={"email": "KIM@example.com "}, token=token)
    assert reply.status == 200, reply.json()
    document = reply.json()
    assert document["profile"]["traits"]["name"] == "Kim"
    kinds = {(identity["kind"], identity["value"]) for identity in document["identities"]}
    assert {("user", "u-42"), ("email", "kim@example.com"), ("anon", "anon-42")} <= kinds
    names = sorted(event.get("event") or event.get("name") or event["type"] for event in document["events"])
    assert names == ["Order Completed", "Pricing", "Signed Up", "identify"]
    assert document["eventsTruncated"] is False
    assert document["emails"] == []
    assert document["suppression"] is None

    by_id = call_api(
        "POST",
        "/marketing/privacy/exports",
        body={"profileId": document["profile"]["profileId"]},
        token=token,
    )
    assert by_id.json()["profile"] == document["profile"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": "nobody@example.com"}, 404),
        ({}, 422),
        ({"email": "a@example.com", "profileId": "p-1"}, 422),
        ({"profileId": "../../etc"}, 422),
        ({"email": "x" * 400}, 422),
    ],
)
def test_bad_requests_are_4xx(
    aws: StackTemplate, call_api: Call, token: str, body: dict[str, str], status: int
) -> None:
    reply = call_api("POST", "/marketing/privacy/exports", body=body, token=token)
    assert reply.status == status
    assert reply.headers["content-type"] == "application/problem+json"


def test_the_document_holds_the_persons_crm_records_and_their_history(
    aws: StackTemplate, call_api: Call, token: str, token_for: Callable[..., str]
) -> None:
    stream = Stream(aws, store_events=True)
    stream.deliver([tracked("identify", userId="u-7", traits={"email": "kim@example.com", "name": "Kim"})])
    sales = token_for("sales", user="sam")
    account = call_api("POST", "/crm/accounts", body={"name": "Kim's Shop"}, token=sales).json()
    kim = call_api(
        "POST", "/crm/contacts", token=sales,
        body={"lastName": "Kim", "email": "Kim@example.com", "accountId": account["accountId"]},
    ).json()  # fmt: skip
    other = call_api(
        "POST", "/crm/contacts", token=sales,
        body={"lastName": "Other", "email": "other@example.com", "accountId": account["accountId"]},
    ).json()  # fmt: skip
    patched = call_api(
        "PATCH", f"/crm/contacts/{kim['contactId']}", token=sales, body={"title": "Owner"},
        headers=[("If-Match", '"1"')],
    )  # fmt: skip
    assert patched.status == 200, patched.json()
    deal = call_api(
        "POST", "/crm/deals", token=sales,
        body={"name": "Shop fit-out", "accountId": account["accountId"], "contactId": kim["contactId"]},
    ).json()  # fmt: skip
    call_api(
        "POST", "/crm/deals", token=sales,
        body={"name": "Someone else's", "accountId": account["accountId"], "contactId": other["contactId"]},
    )  # fmt: skip

    document = call_api(
        "POST", "/marketing/privacy/exports", body={"email": "kim@example.com"}, token=token
    ).json()
    crm = document["crm"]
    assert [entry["record"]["contactId"] for entry in crm["contacts"]] == [kim["contactId"]]
    assert crm["contacts"][0]["record"]["title"] == "Owner"
    history = crm["contacts"][0]["history"]
    assert [(entry["version"], entry["action"]) for entry in history] == [(2, "updated"), (1, "created")]
    assert {"field": "title", "after": "Owner"} in [
        {key: change[key] for key in ("field", "after")} for change in history[0]["changes"]
    ]
    assert [entry["record"]["dealId"] for entry in crm["deals"]] == [deal["dealId"]]
    assert crm["deals"][0]["history"][0]["action"] == "created"
    assert crm["leads"] == []

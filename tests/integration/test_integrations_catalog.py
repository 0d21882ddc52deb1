"""The event catalog on moto: real business changes (tracking, scoring, the CRM and commerce APIs, email
feedback) go through the main table's stream into the catalog function; every catalog type is published,
each event matches its JSON Schema, and a redelivered batch publishes nothing twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import jsonschema
import pytest
from integrations_support import MainStream, bus_events, run_catalog
from scoring_support import T0, Stream, add_sales_user, tracked

from integrations.catalog import EVENT_TYPES, schema_of
from leadstream.settings import get_settings
from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate
from scoring.store.config import scoring_config


@pytest.fixture
def main_stream(aws: StackTemplate) -> MainStream:
    return MainStream(aws)


def _in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


class Api:
    def __init__(self, call_api: Call, token: str) -> None:
        self.call_api, self.token = call_api, token

    def __call__(
        self, method: str, path: str, body: Any = b"", status: int = 200, etag: int | None = None
    ) -> Any:
        headers = [("if-match", f'"{etag}"')] if etag is not None else []
        reply = self.call_api(method, path, body=body, token=self.token, headers=headers)
        assert reply.status == status, (method, path, reply.status, reply.body)
        return reply.json() if reply.body else None


def business_day(aws: StackTemplate, call_api: Call, token_for: Callable[..., str]) -> None:
    """One of everything the catalog covers."""
    scoring_config()
    add_sales_user(aws, "sam@leadstream.test")
    stream = Stream(aws, store_events=True)
    at = T0
    # Two anonymous visitors who turn out to be one person (a merge), then a hand-raiser form (a new
    # profile, a stage change, a qualified lead, a form submission).
    stream.deliver([tracked("page", anonymousId="a1", at=at), tracked("page", anonymousId="a2", at=at)])
    stream.deliver([tracked("identify", anonymousId="a1", userId="u-1", traits={"email": "g@x.io"}, at=at)])
    stream.deliver([tracked("identify", anonymousId="a2", userId="u-1", at=at + timedelta(minutes=1))])
    stream.deliver([
        tracked(
            "track", anonymousId="a1", userId="u-1", event="Form Submitted", at=at + timedelta(minutes=2),
            properties={"formId": "demo-request", "handRaiser": True, "fields": {"email": "g@x.io"}},
            context={"traits": {"email": "g@x.io"}},
        )
    ])  # fmt: skip
    sales = Api(call_api, token_for("sales", "sam"))
    admin = Api(call_api, token_for("admin", "ada"))
    # Leads: the handed-over one accepted; two more (as scoring creates them) rejected and disqualified.
    [lead] = sales("GET", "/crm/leads")["items"]
    sales("POST", f"/crm/leads/{lead['leadId']}/accept", {})
    from crm.leads import Lead, LeadOrigin, handoff_lead_id
    from crm.lifecycle import create_lead_once

    for number in (2, 3):
        now = datetime.now(UTC)
        create_lead_once(Lead(
            lead_id=handoff_lead_id(f"p-{number}", 1), origin=LeadOrigin.SCORING, profile_id=f"p-{number}",
            email=f"p{number}@x.io", last_name="P", qualification={"reason": "score"}, created_at=now,
            updated_at=now,
        ))  # fmt: skip
    sales("POST", f"/crm/leads/{handoff_lead_id('p-2', 1)}/reject", {"reason": "a student"})
    sales("POST", f"/crm/leads/{handoff_lead_id('p-3', 1)}/disqualify", {"reason": "no budget"})
    # CRM records.
    account = sales("POST", "/crm/accounts", {"name": "Acme"}, status=201)
    sales("PATCH", f"/crm/accounts/{account['accountId']}", {"industry": "Software"}, etag=1)
    contact = sales(
        "POST", "/crm/contacts", {"lastName": "Lovelace", "accountId": account["accountId"]}, status=201
    )
    sales("PATCH", f"/crm/contacts/{contact['contactId']}", {"title": "CTO"}, etag=1)
    deal = sales("POST", "/crm/deals", {"name": "Big", "amount": "1000.00", "currency": "EUR"}, status=201)
    sales("PATCH", f"/crm/deals/{deal['dealId']}", {"stageId": "won"}, etag=1)
    lost = sales("POST", "/crm/deals", {"name": "Small"}, status=201)
    sales("PATCH", f"/crm/deals/{lost['dealId']}", {"stageId": "lost"}, etag=1)
    # Commerce: a quote accepted into an order, its contract, renewed by a won deal, then terminated.
    product = admin(
        "POST", "/crm/products", {"sku": "SEAT", "name": "Seat", "prices": {"EUR": "10.00"}}, status=201
    )
    quote = sales("POST", "/crm/quotes", {
        "name": "Seats", "accountId": account["accountId"], "currency": "EUR", "validUntil": _in_days(30),
        "lines": [{"productId": product["productId"], "quantity": "3"}],
    }, status=201)  # fmt: skip
    sales("POST", f"/crm/quotes/{quote['quoteId']}/status", {"status": "sent"})
    accepted = sales("POST", f"/crm/quotes/{quote['quoteId']}/status", {"status": "accepted"})
    contract = sales(
        "POST", f"/crm/orders/{accepted['orderId']}/contract",
        {"startDate": _in_days(0), "endDate": _in_days(365)}, status=201,
    )  # fmt: skip
    sales("POST", "/crm/deals", {
        "name": "Renewal", "stageId": "won", "customFields": {"renewalOf": contract["contractId"]},
    }, status=201)  # fmt: skip
    sales("POST", f"/crm/contracts/{contract['contractId']}/terminate", {"reason": "closed"})
    # Email feedback on a send record, as the feedback code marks it.
    table, client = get_settings().main_table, boto3.client("dynamodb")
    key = {"pk": {"S": "SEND#msg-1"}, "sk": {"S": "SEND"}}
    client.put_item(TableName=table, Item={**key, "status": {"S": "sent"}, "profileId": {"S": "p-9"}})
    for attribute in ("bouncedAt", "complainedAt", "unsubscribedAt"):
        client.update_item(
            TableName=table, Key=key, UpdateExpression="SET #a = :t",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":t": {"S": "2026-11-23T12:00:00Z"}},
        )  # fmt: skip


def test_every_catalog_event_is_published_once_and_matches_its_schema(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], main_stream: MainStream
) -> None:
    business_day(aws, call_api, token_for)
    records = main_stream.new_records()
    event = main_stream.lambda_event(records)

    assert run_catalog(event) == {"batchItemFailures": []}
    published = bus_events(aws)

    types = Counter(str(item["detail-type"]) for item in published)
    assert set(types) == set(EVENT_TYPES), set(EVENT_TYPES) - set(types)
    for item in published:
        jsonschema.validate(item["detail"], schema_of(item["detail-type"]))
    catalog = [item["detail"] for item in published if item["source"] == "leadstream.catalog"]
    ids = [detail["id"] for detail in catalog]
    assert len(ids) == len(set(ids))
    # Personal data stays out: no email address, no name in any catalog event.
    text = repr(catalog)
    for personal in ("g@x.io", "Lovelace", "p2@x.io"):
        assert personal not in text
    # The changed fields are named; values only of fields that are not personal.
    updated = next(d for d in catalog if d["type"] == "contact.updated")["data"]
    assert (updated["changedFields"], updated["changes"]) == (["title"], [])
    won = next(d for d in catalog if d["type"] == "deal.won")["data"]
    assert (won["amount"], won["currency"], won["outcome"]) == ("1000.00", "EUR", "won")

    # The stream delivers the batch again (a retry): the same ids, nothing published twice.
    assert run_catalog(event) == {"batchItemFailures": []}
    assert len(bus_events(aws)) == len(published)


def test_a_redelivered_record_derives_the_same_event_id(aws: StackTemplate, main_stream: MainStream) -> None:
    from integrations.changes import events_of_record

    client = boto3.client("dynamodb")
    table = get_settings().main_table
    client.put_item(
        TableName=table, Item={"pk": {"S": "PROFILE#p-1"}, "sk": {"S": "PROFILE"}, "version": {"N": "1"}}
    )
    [record] = main_stream.lambda_event(main_stream.new_records())["Records"]

    first, again = events_of_record(record), events_of_record(record)

    assert [event.type for event in first] == ["profile.created"]
    assert [event.id for event in first] == [event.id for event in again]


def test_refused_events_are_retried_and_nothing_else_is_republished(
    aws: StackTemplate, main_stream: MainStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.store import bus

    client = boto3.client("dynamodb")
    table = get_settings().main_table
    for number in (1, 2):
        item = {
            "pk": {"S": f"PROFILE#p-{number}"},
            "sk": {"S": "PROFILE"},
            "profileId": {"S": f"p-{number}"},
            "version": {"N": "1"},
        }
        client.put_item(TableName=table, Item=item)
    event = main_stream.lambda_event(main_stream.new_records())
    real_put = bus.put_events
    monkeypatch.setattr(bus, "put_events", lambda events: real_put(events[:1]) | {e.id for e in events[1:]})

    failed = run_catalog(event)["batchItemFailures"]

    assert [f["itemIdentifier"] for f in failed] == [event["Records"][1]["dynamodb"]["SequenceNumber"]]
    assert len(bus_events(aws)) == 1
    monkeypatch.setattr(bus, "put_events", real_put)
    assert run_catalog(event) == {"batchItemFailures": []}
    profiles = sorted(e["detail"]["data"]["profileId"] for e in bus_events(aws))
    assert profiles == ["p-1", "p-2"]

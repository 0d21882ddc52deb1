"""Erasure on moto, through the real handlers: a person with events, a CRM contact (created with an
Idempotency-Key) and its history, a lead, an email sent, a suppression entry; the erasure's queue drained
by the worker with every message delivered twice; the main table's stream through the closed loop
before and after. Then no table holds the person's address, name or phone, the receipt counts each store
once, the sender still refuses the address, and the person coming back is a new profile."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from closedloop_support import Client as Crm
from closedloop_support import MainStream
from email_support import LambdaContext, enqueue, receive, request, run_sender, send_record, template
from scoring_support import Stream, tracked

from leadstream.profiles import IdentityRef
from leadstream.settings import get_settings
from leadstream.store.profiles import get_profile, profile_of
from leadstream_local.inprocess import Call
from leadstream_local.lambda_events import insert_record, sqs_record, stream_record
from leadstream_local.template import StackTemplate

EMAIL = "Erin.Quill@Example.com"
FIRST, LAST = "Erin", "Quillfeather"
PHONE = "+44 20 7946 0999"


def needles() -> list[str]:
    found = set()
    for value in (EMAIL, EMAIL.lower(), FIRST + " " + LAST, LAST, PHONE):
        found |= {value, value.lower(), value.upper(), quote(value, safe=""), quote_plus(value)}
    return sorted(found)


def take(stack: StackTemplate, logical: str) -> list[dict[str, Any]]:
    sqs, url = boto3.client("sqs"), str(stack.physical[logical]["Ref"])
    taken: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not messages:
            return taken
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        taken.extend(messages)


def run_worker(stack: StackTemplate, message: dict[str, Any]) -> dict[str, Any]:
    from handlers.erasure_worker import lambda_handler

    event = {"Records": [sqs_record(message, queue_arn=stack.physical["ErasureQueue"]["Arn"])]}
    return lambda_handler(event, LambdaContext(function_name="ErasureWorkerFunction"))  # type: ignore[arg-type]


def drain(stack: StackTemplate, *, redeliver: bool = True) -> int:
    steps = 0
    while messages := take(stack, "ErasureQueue"):
        for message in messages:
            assert run_worker(stack, message) == {"batchItemFailures": []}
            if redeliver:
                assert run_worker(stack, message) == {"batchItemFailures": []}
            steps += 1
    return steps


def every_item(table: str) -> Iterator[dict[str, Any]]:
    for page in boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        yield from page["Items"]


def traces(stack: StackTemplate) -> list[str]:
    """Every item of every table that mentions the person, as `<table>: <item>`."""
    wanted = needles()
    found = []
    for logical in ("MainTable", "EventsTable", "IdempotencyTable"):
        table = str(stack.physical[logical]["Ref"])
        for item in every_item(table):
            text = json.dumps(item)
            if any(needle in text for needle in wanted):
                found.append(f"{logical}: {text[:300]}")
    return found


@pytest.fixture
def admin(aws: StackTemplate, token_for: Callable[..., str]) -> str:
    return token_for("admin", user="ada-admin")


@pytest.fixture
def crm(aws: StackTemplate, call_api: Call, token_for: Callable[..., str]) -> Crm:
    return Crm(call_api, token_for("sales", user="sam"))


@pytest.fixture
def loop(aws: StackTemplate) -> MainStream:
    stream = MainStream(aws)
    stream.drain()
    return stream


def a_person(aws: StackTemplate, call_api: Call, crm: Crm, loop: MainStream) -> dict[str, Any]:
    """The person everywhere: tracked visits and a form, an identify, a CRM contact (with an
    Idempotency-Key) edited once, an email sent, an unsubscribe."""
    stream = Stream(aws, store_events=True)
    stream.deliver([tracked("page", anonymousId="anon-erin", name="Pricing", context={"ip": "203.0.113.9"})])
    stream.deliver(
        [
            tracked(
                "track",
                anonymousId="anon-erin",
                event="Form Submitted",
                properties={"formId": "demo", "fields": {"email": EMAIL, "phone": PHONE}, "revenue": 12},
            ),
            tracked(
                "identify",
                userId="u-erin",
                anonymousId="anon-erin",
                traits={"email": EMAIL, "firstName": FIRST, "lastName": LAST, "phone": PHONE},
            ),
        ]
    )
    reply = crm.call_api(
        "POST",
        "/crm/contacts",
        body={"lastName": LAST, "firstName": FIRST, "email": EMAIL.lower(), "mobile": PHONE},
        headers=[("idempotency-key", "create-erin")],
        token=crm.token,
    )
    assert reply.status == 201, reply.body
    contact = reply.json()
    patched = crm.request(
        "PATCH", f"/crm/contacts/{contact['contactId']}", {"title": "CTO"}, if_match=reply.headers["etag"]
    )
    assert patched.status == 200, patched.body
    loop.drain()
    profile = profile_of(IdentityRef(kind="email", value=EMAIL.lower()))
    assert profile is not None
    assert profile.traits["firstName"] == FIRST

    from scoring_support import T0

    from mail.store.suppression import suppress
    from mail.suppression import SuppressionReason

    tpl = template()
    send = request(profile, tpl)
    enqueue(aws, [send])
    assert run_sender(receive(aws)) == {"batchItemFailures": []}
    assert send_record(send.message_id).email == EMAIL.lower()
    suppress(EMAIL, SuppressionReason.UNSUBSCRIBED, T0, message_id=send.message_id)
    return {"profile": profile, "contact": contact, "send": send, "template": tpl}


def test_an_erasure_leaves_no_trace_and_a_receipt_counted_once(
    aws: StackTemplate, call_api: Call, admin: str, crm: Crm, loop: MainStream
) -> None:
    person = a_person(aws, call_api, crm, loop)
    assert traces(aws)  # the search finds the person before

    reply = call_api("POST", "/marketing/privacy/erasures", body={"email": f" {EMAIL.upper()} "}, token=admin)
    assert reply.status == 202, reply.body
    erasure = reply.json()
    assert erasure["status"] == "queued"
    assert reply.headers["location"] == f"/marketing/privacy/erasures/{erasure['erasureId']}"
    assert drain(aws, redeliver=True) > 5
    loop.drain()  # the closed loop sees the erased contact and profile: nothing comes back
    drain(aws)

    assert traces(aws) == []
    done = call_api("GET", f"/marketing/privacy/erasures/{erasure['erasureId']}", token=admin).json()
    assert done["status"] == "done"
    receipt = {entry["store"]: entry["items"] for entry in done["receipt"]}
    assert receipt["events"] == {"anonymised": 3}
    assert receipt["emailSends"] == {"anonymised": 1}
    assert receipt["suppression"] == {"hashed": 1}
    assert receipt["crm"]["contacts"] == 1
    assert receipt["crm"]["historyEntries"] == 4  # created, linked by the loop, updated, erased
    assert receipt["idempotencyRecords"] == {"removed": 1}
    assert receipt["profile"] == {"profiles": 1, "identities": 3, "merges": 0}
    assert all(entry.get("finishedAt") for entry in done["receipt"])

    # Kept for the reports: the profile with its id and stage, the events with their types and numbers.
    profile = get_profile(person["profile"].profile_id)
    assert profile is not None
    assert profile.erased_at is not None
    assert profile.traits == {}
    assert profile.identities == []
    assert profile.email is None
    assert send_record(person["send"].message_id).template_id == person["template"].template_id
    form = [
        item for item in every_item(get_settings().events_table) if '"Form Submitted"' in json.dumps(item)
    ]
    assert len(form) == 1
    message = json.loads(form[0]["message"]["S"])
    assert message["properties"] == {"formId": "demo", "revenue": 12}
    assert message["anonymous_id"].startswith("erased-")
    assert "user_id" not in message
    assert "traits" not in message or message["traits"] == {}

    # The same person again: the same erasure, counted once.
    again = call_api("POST", "/marketing/privacy/erasures", body={"email": EMAIL}, token=admin)
    assert again.status == 202
    assert again.json()["erasureId"] == erasure["erasureId"]
    assert drain(aws) == 0
    assert call_api("GET", f"/marketing/privacy/erasures/{erasure['erasureId']}", token=admin).json() == done

    # The access export finds nobody by that address.
    access = call_api("POST", "/marketing/privacy/exports", body={"email": EMAIL}, token=admin)
    assert access.status == 404


def test_the_sender_still_refuses_an_erased_address_and_the_person_can_come_back(
    aws: StackTemplate, call_api: Call, admin: str, crm: Crm, loop: MainStream
) -> None:
    person = a_person(aws, call_api, crm, loop)
    erasure = call_api("POST", "/marketing/privacy/erasures", body={"email": EMAIL}, token=admin).json()
    drain(aws)
    loop.drain()

    # The address signs up again: a new profile (the erased one keeps its id), which tracking can build.
    Stream(aws, store_events=True).deliver(
        [tracked("identify", userId="u-erin", anonymousId="anon-erin", traits={"email": EMAIL})]
    )
    back = profile_of(IdentityRef(kind="email", value=EMAIL.lower()))
    assert back is not None
    assert back.profile_id != person["profile"].profile_id
    assert back.erased_at is None

    send = request(back, person["template"])
    enqueue(aws, [send])
    assert run_sender(receive(aws)) == {"batchItemFailures": []}
    record = send_record(send.message_id)
    assert record.status == "skipped"
    assert record.reason.startswith("suppressed")

    # The marketing suppression lookup says so too, without the address being stored in plain.
    reply = call_api("GET", f"/marketing/suppressions/{quote(EMAIL)}", token=admin)
    assert reply.status == 200, reply.body
    assert reply.json()["suppressed"] is True
    assert erasure["erasureId"].startswith("era_")


def test_a_retried_request_with_its_key_is_the_same_erasure_and_a_key_reused_for_another_is_refused(
    aws: StackTemplate, call_api: Call, admin: str
) -> None:
    headers = [("idempotency-key", "erase-1")]
    first = call_api(
        "POST", "/marketing/privacy/erasures", body={"email": "a@example.com"}, headers=headers, token=admin
    )
    second = call_api(
        "POST", "/marketing/privacy/erasures", body={"email": "a@example.com"}, headers=headers, token=admin
    )
    assert first.status == second.status == 202
    assert first.json()["erasureId"] == second.json()["erasureId"]
    other = call_api(
        "POST", "/marketing/privacy/erasures", body={"email": "b@example.com"}, headers=headers, token=admin
    )
    assert other.status == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in other.json()["detail"]
    drain(aws)
    done = call_api("GET", f"/marketing/privacy/erasures/{first.json()['erasureId']}", token=admin).json()
    assert done["status"] == "done"
    # Nobody known by that address: every store looked, only the suppression entry made (as a hash).
    receipt = {entry["store"]: entry["items"] for entry in done["receipt"]}
    assert receipt["suppression"] == {"hashed": 1}
    assert receipt.get("events", {}) == {}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"email": "a@example.com", "profileId": "p-1"}, 422),
        ({"email": "not an address"}, 422),
        ({"email": "x" * 400 + "@example.com"}, 422),
        ({"profileId": "../../etc"}, 422),
        ({"profileId": "nobody-has-this"}, 404),
        ({"email": None, "profileId": None}, 422),
        ({"email": ["a@example.com"]}, 422),
        ({"email": "a@example.com", "extra": 1}, 422),
    ],
)
def test_bad_requests_are_4xx_problems(
    aws: StackTemplate, call_api: Call, admin: str, body: dict[str, Any], status: int
) -> None:
    reply = call_api("POST", "/marketing/privacy/erasures", body=body, token=admin)
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert take(aws, "ErasureQueue") == []


def test_unknown_erasure_ids_are_404_and_malformed_ones_422(
    aws: StackTemplate, call_api: Call, admin: str
) -> None:
    assert call_api("GET", "/marketing/privacy/erasures/era_" + "0" * 32, token=admin).status == 404
    assert call_api("GET", "/marketing/privacy/erasures/..%2F..", token=admin).status in (404, 422)
    assert call_api("GET", "/marketing/privacy/erasures/era_xyz", token=admin).status == 422


def test_only_admins_erase_and_marketing_reads_receipts(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    body = {"email": "someone@example.com"}
    assert (
        call_api("POST", "/marketing/privacy/erasures", body=body, token=token_for("marketing")).status == 403
    )
    assert call_api("POST", "/marketing/privacy/erasures", body=body, token=token_for("sales")).status == 403
    created = call_api("POST", "/marketing/privacy/erasures", body=body, token=token_for("admin"))
    assert created.status == 202
    path = f"/marketing/privacy/erasures/{created.json()['erasureId']}"
    assert call_api("GET", path, token=token_for("marketing")).status == 200
    assert call_api("GET", path, token=token_for("sales")).status == 403


def test_a_page_that_crashed_before_its_commit_runs_again_and_counts_once(
    aws: StackTemplate,
    call_api: Call,
    admin: str,
    crm: Crm,
    loop: MainStream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a_person(aws, call_api, crm, loop)
    erasure = call_api("POST", "/marketing/privacy/erasures", body={"email": EMAIL}, token=admin).json()

    from customerdata.store import erasures

    commit = erasures.commit_page
    crashes: list[str] = []

    def crash_once(erasure_id: str, step: str, number: int, **fields: Any) -> bool:
        if step in ("events", "crm") and step not in crashes:
            crashes.append(step)
            raise RuntimeError("the function timed out after erasing, before committing")
        return commit(erasure_id, step, number, **fields)

    monkeypatch.setattr(erasures, "commit_page", crash_once)
    while messages := take(aws, "ErasureQueue"):
        for message in messages:
            try:
                run_worker(aws, message)
            except BatchProcessingError:
                assert run_worker(aws, message) == {"batchItemFailures": []}  # SQS delivers it again
    assert crashes == ["events", "crm"]
    done = call_api("GET", f"/marketing/privacy/erasures/{erasure['erasureId']}", token=admin).json()
    receipt = {entry["store"]: entry["items"] for entry in done["receipt"]}
    assert receipt["events"] == {"anonymised": 3}
    assert receipt["crm"]["contacts"] == 1
    assert receipt["crm"]["historyEntries"] == 4
    assert traces(aws) == []


def _change(
    stack: StackTemplate, before: dict[str, Any], after: dict[str, Any], number: int
) -> dict[str, Any]:
    """A MODIFY record of the main table's stream (NEW_AND_OLD_IMAGES), as Lambda delivers it."""
    from leadstream.store.dynamo import serialize

    record = insert_record(after, sequence_number=number, event_name="MODIFY")
    record["dynamodb"]["OldImage"] = serialize(before)
    record["dynamodb"]["NewImage"] = serialize(after)
    return stream_record(record, stream_arn=str(stack.physical["MainTable"]["StreamArn"]))


def test_changes_made_before_the_erasure_and_delivered_after_it_copy_nothing_back(
    aws: StackTemplate, call_api: Call, admin: str, crm: Crm, loop: MainStream
) -> None:
    """A contact edit and a profile change, both made before the erasure, reach the closed loop after it
    (a stream that lags, a batch retried): neither copies the person back to the other side."""
    from leadstream import keys
    from leadstream.store.dynamo import get_item

    person = a_person(aws, call_api, crm, loop)
    table = get_settings().main_table
    contact_id = person["contact"]["contactId"]
    contact = get_item(table, keys.record_key("contact", contact_id), consistent=True)
    profile_item = get_item(table, keys.profile_key(person["profile"].profile_id), consistent=True)
    assert contact is not None
    assert profile_item is not None
    edited_contact = {**contact, "phone": "+44 20 7946 0111", "version": contact["version"] + 1}
    edited_profile = {
        **profile_item,
        "traits": {**profile_item["traits"], "title": "Chief Quill Officer"},
        "traitStamps": {**profile_item["traitStamps"], "title": "2099-01-01T00:00:00.000Z|src|m-late"},
        "version": profile_item["version"] + 1,
    }
    stale = [
        _change(aws, contact, edited_contact, 900_001),
        _change(aws, profile_item, edited_profile, 900_002),
    ]

    requested = call_api("POST", "/marketing/privacy/erasures", body={"email": EMAIL}, token=admin)
    assert requested.status == 202, requested.body
    drain(aws)
    loop.drain()
    assert loop.deliver(stale) == {"batchItemFailures": []}  # delivered late, and twice
    assert loop.deliver(stale) == {"batchItemFailures": []}
    loop.drain()

    erased = crm.ok(crm.get(f"/crm/contacts/{contact_id}"))
    assert erased["lastName"] == "(erased)"
    assert erased["erasedAt"]
    assert (erased["firstName"], erased["phone"], erased["title"], erased["email"]) == (
        None,
        None,
        None,
        None,
    )
    profile = get_profile(person["profile"].profile_id)
    assert profile is not None
    assert profile.traits == {}
    assert profile_of(IdentityRef(kind="email", value=EMAIL.lower())) is None
    assert traces(aws) == []


def test_webhook_payloads_and_a_visitors_website_items_lose_the_person(
    aws: StackTemplate, call_api: Call, admin: str, crm: Crm, loop: MainStream
) -> None:
    """`lead.qualified` carries an address and a name: its deliveries' payloads lose them (the other
    deliveries' stay whole); the visitor's unlocked assets and pop-up impressions go."""
    from integrations.store import webhooks
    from website.store import unlock, unlock_key

    a_person(aws, call_api, crm, loop)
    subscription = {
        "subscriptionId": "wh-1",
        "url": "https://hooks.example.com/x",
        "eventTypes": ["*"],
        "status": "active",
        "secret": "s",
        "version": 1,
        "createdAt": "2026-12-01T00:00:00.000Z",
    }
    assert webhooks.put_subscription(subscription, expected_version=None)
    payload = {"type": "lead.qualified", "data": {"leadId": "l-1", "email": EMAIL.lower(), "lastName": LAST}}
    other = {"type": "lead.qualified", "data": {"leadId": "l-2", "email": "someone@else.example"}}
    for event_id, body in (("ev-1", payload), ("ev-2", other)):
        assert webhooks.create_delivery(
            {
                "subscriptionId": "wh-1",
                "eventId": event_id,
                "eventType": "lead.qualified",
                "payload": json.dumps(body),
                "status": "delivered",
                "attempts": 1,
                "createdAt": "2026-12-01T00:00:00.000Z",
            }
        )
    unlock("asset-1", "anon-erin")

    call_api("POST", "/marketing/privacy/erasures", body={"email": EMAIL}, token=admin)
    drain(aws)

    scrubbed = webhooks.get_delivery("wh-1", "ev-1")
    kept = webhooks.get_delivery("wh-1", "ev-2")
    assert scrubbed is not None
    assert kept is not None
    assert json.loads(scrubbed["payload"]) == {
        "type": "lead.qualified",
        "data": {"leadId": "l-1", "email": None, "lastName": None},
    }
    assert json.loads(kept["payload"]) == other
    from leadstream.store.dynamo import get_item

    assert get_item(get_settings().main_table, unlock_key("asset-1", "anon-erin")) is None
    assert traces(aws) == []

"""Erasure: one person with N events erased, as the ErasureWorkerFunction runs it, on an embedded moto.

Each size runs on an empty moto holding the template's resources. The person is a profile known by an
address, a user id and an anonymous id, with N events in the events table (half under each id), one
CRM contact and one email send record; the erasure is requested as `POST /marketing/privacy/erasures`
does, then the ErasureQueue's messages run in order, in this process (plan, each store's pages, finish).
Measured: the time to erase, the DynamoDB calls per event, and the same for a person with no events
(the fixed part: every store's step), measured in the same run as the baseline.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import stack_on_moto
from bench.scoring import READ_CALLS, WRITE_CALLS, _Meter

SIZES = (0, 1_000, 5_000)


@dataclass
class ErasureCost:
    events: int
    seconds: float
    messages: int
    calls: dict[str, int] = field(default_factory=dict)
    receipt: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, names: tuple[str, ...]) -> int:
        return sum(self.calls.get(name, 0) for name in names)


def measure() -> list[ErasureCost]:
    results = []
    for size in SIZES:
        with stack_on_moto() as template:
            results.append(_run(size, template))
    return results


def _person(events: int) -> str:
    """A profile with its identities, `events` events, a CRM contact and a send record; its address."""
    import boto3

    from leadstream import keys
    from leadstream.events import SegmentMessage
    from leadstream.profiles import IdentityRef, Profile
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import serialize
    from leadstream.store.profiles import profile_item
    from tracking.logic import store_events

    email = "kim.doe@example.com"
    table = get_settings().main_table
    client = boto3.client("dynamodb")
    refs = [
        IdentityRef(kind="email", value=email),
        IdentityRef(kind="user", value="u-kim"),
        IdentityRef(kind="anon", value="anon-kim"),
    ]
    profile = Profile(
        profile_id="p-kim", version=1, email=email, traits={"firstName": "Kim", "lastName": "Doe"}
    )
    for ref in refs:
        profile.add_identity(ref)
        item = {**keys.identity_key(ref.kind, ref.value), "kind": ref.kind, "value": ref.value}
        client.put_item(TableName=table, Item=serialize({**item, "profileId": "p-kim"}))
    client.put_item(TableName=table, Item=serialize(profile_item(profile)))
    contact = {
        **keys.record_key("contact", "c-kim"),
        "contactId": "c-kim",
        "lastName": "Doe",
        "firstName": "Kim",
        "email": email,
        "profileId": "p-kim",
        "version": 1,
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
    }
    client.put_item(TableName=table, Item=serialize(contact))
    client.put_item(
        TableName=table, Item=serialize({**keys.unique_key("contact", "email", email), "recordId": "c-kim"})
    )
    client.put_item(
        TableName=table,
        Item=serialize({**keys.contact_link_key("p-kim"), "profileId": "p-kim", "contactId": "c-kim"}),
    )
    send = {
        **keys.send_key("msg-kim"),
        **keys.send_profile_index("p-kim", "2026-01-01T00:00:00.000Z", "msg-kim"),
        "messageId": "msg-kim",
        "profileId": "p-kim",
        "email": email,
        "subject": "Hello Kim",
        "status": "sent",
        "templateId": "tpl-1",
        "templateVersion": 1,
        "updatedAt": "2026-01-01T00:00:00.000Z",
    }
    client.put_item(TableName=table, Item=serialize(send))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = []
    for n in range(events):
        raw = {
            "type": "track",
            "event": "Viewed Product",
            "messageId": f"m-{n}",
            "timestamp": (start + timedelta(minutes=n)).isoformat(),
            "properties": {"productId": f"p{n % 40}", "price": 10 + n % 7, "note": "for Kim Doe"},
            "context": {"ip": "203.0.113.9", "traits": {"email": email}},
            **({"userId": "u-kim"} if n % 2 else {"anonymousId": "anon-kim"}),
        }
        batch.append(SegmentMessage.model_validate(raw).to_tracked("src", start))
        if len(batch) == 500:
            store_events(batch)
            batch = []
    if batch:
        store_events(batch)
    return email


def _run(size: int, template: Any) -> ErasureCost:
    import boto3

    from closedloop.sync import contacts_of
    from customerdata.erasure import get_erasure, handle, receipt, request_erasure
    from handlers.erasure_worker import steps
    from leadstream.aws import dynamodb

    email = _person(size)
    queue = str(template.physical["ErasureQueue"]["Ref"])
    sqs = boto3.client("sqs")
    meter = _Meter()
    meter.install(dynamodb())
    meter.calls.clear()
    started = time.perf_counter()
    job = request_erasure(email=email, profile_id=None, user="bench", idempotency_key=None).job
    messages = 0
    while True:
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not received:
            break
        for message in received:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            handle(json.loads(message["Body"]), steps(), contacts_of)
            messages += 1
    seconds = time.perf_counter() - started
    done = get_erasure(str(job["erasureId"]))
    assert done["status"] == "done", done
    return ErasureCost(
        events=size,
        seconds=seconds,
        messages=messages,
        calls=dict(meter.calls),
        receipt={entry["store"]: entry["items"] for entry in receipt(done)},
    )


def render(results: list[ErasureCost]) -> list[str]:
    base = results[0]
    lines = [
        "## Erasure: one person with N events (bench/erasure.py)",
        "",
        "Command: `make bench ONLY=erasure`. The ErasureWorkerFunction's steps on an embedded moto, in",
        "this process: a person (profile, three identities, a CRM contact, a send record) with N events is",
        "erased through every store's step (pages of 500 events). The first row, a person without events,",
        "is the fixed part and the baseline of the ratios; calls per event are the calls above it.",
        "",
        "| events | time (s) | vs 0 events | messages | DynamoDB calls | reads | writes "
        "| calls per event (above the baseline) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base_calls = sum(base.calls.values())
    for result in results:
        calls = sum(result.calls.values())
        per_event = (calls - base_calls) / result.events if result.events else 0.0
        ratio = result.seconds / base.seconds if base.seconds else 0.0
        lines.append(
            f"| {result.events:,} | {result.seconds:.1f} | {ratio:.1f}x | {result.messages} | {calls:,} "
            f"| {result.total(READ_CALLS):,} | {result.total(WRITE_CALLS):,} | {per_event:.3f} |"
        )
    largest = results[-1]
    pages = max(1, -(-largest.events // 500))

    def per_page(name: str) -> float:
        return (largest.calls.get(name, 0) - base.calls.get(name, 0)) / pages

    lines += [
        "",
        f"Calls of the {largest.events:,}-event erasure: "
        + ", ".join(f"{name} {count:,}" for name, count in sorted(largest.calls.items()))
        + f". Per page of 500 events above the baseline: {per_page('BatchGetItem'):.0f} BatchGetItem, "
        f"{per_page('BatchWriteItem'):.0f} BatchWriteItem (25 puts each), {per_page('Query'):.1f} Query, "
        f"{per_page('TransactWriteItems'):.1f} TransactWriteItems (the page's commit). Receipt: "
        + "; ".join(f"{store} {items}" for store, items in sorted(largest.receipt.items()))
        + ".",
        "",
    ]
    return lines

"""The scoring handler on moto: stream batches in, profiles, identities and merge records out."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_support import T0, Stream, tracked

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.events import SegmentMessage, TrackedEvent
from leadstream.profiles import IdentityRef, Profile
from leadstream.settings import get_settings
from leadstream.store import profiles as store

WRITE_CALLS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture
def stream(aws: Any) -> Stream:
    from scoring.store.config import scoring_config

    scoring_config()  # a warm container: the scoring rules are seeded and cached before any batch
    return Stream(aws)


@pytest.fixture
def calls(aws: Any) -> Counter[str]:
    """DynamoDB calls made by our code, by operation name (in a warm container: scoring rules cached)."""
    from scoring.store.config import scoring_config

    scoring_config()
    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    dynamodb().meta.events.register("before-call.dynamodb", count)
    return counter


def writes(calls: Counter[str]) -> int:
    return sum(calls[name] for name in WRITE_CALLS)


def main_items() -> list[dict[str, Any]]:
    """Every profile, identity and merge item (a test may scan; the code under test never does)."""
    from leadstream.store.dynamo import deserialize

    client = boto3.client("dynamodb")
    pages = client.get_paginator("scan").paginate(
        TableName=get_settings().main_table,
        # Filtered by moto, not here: it then serializes only these items, not the scoring configuration too.
        FilterExpression="begins_with(pk, :profile) OR begins_with(pk, :identity)",
        ExpressionAttributeValues={":profile": {"S": "PROFILE#"}, ":identity": {"S": "IDENTITY#"}},
    )
    return [deserialize(item) for page in pages for item in page["Items"]]


def stored_profiles() -> list[Profile]:
    return [Profile.model_validate(item) for item in main_items() if item["sk"] == "PROFILE"]


def live(kind: str, value: str) -> Profile:
    profile = store.profile_of(IdentityRef(kind=kind, value=value))  # type: ignore[arg-type]
    assert profile is not None
    return profile


def owner(kind: str, value: str) -> str:
    item = boto3.client("dynamodb").get_item(
        TableName=get_settings().main_table,
        Key={k: {"S": v} for k, v in keys.identity_key(kind, value).items()},
    )["Item"]
    return item["profileId"]["S"]


# --- behaviour ----------------------------------------------------------------------------------------
def test_a_visitor_identifies_and_a_second_device_is_merged(stream: Stream, calls: Counter[str]) -> None:
    first = stream.deliver(
        [
            tracked(
                "page", anonymousId="laptop", context={"page": {"url": "https://x.example/?utm_source=ads"}}
            ),
            tracked(
                "identify", userId="u1", anonymousId="laptop", traits={"name": "Jane"}, at=T0 + timedelta(1)
            ),
            tracked("page", anonymousId="phone", at=T0 + timedelta(2), context={"traits": {"plan": "pro"}}),
        ]
    )
    assert first == {"batchItemFailures": []}
    assert writes(calls) == 2  # two profiles: Jane's and the phone's
    calls.clear()

    stream.deliver([tracked("identify", userId="u1", anonymousId="phone", at=T0 + timedelta(3))])
    assert writes(calls) == 1  # Jane's profile, with the phone's absorbed inside the same transaction

    jane = live("anon", "phone")
    assert jane.profile_id == owner("user", "u1") == owner("anon", "laptop") == owner("anon", "phone")
    assert jane.user_id == "u1"
    assert jane.traits == {"name": "Jane", "plan": "pro"}
    assert [str(ref) for ref in jane.identities] == ["anon:laptop", "anon:phone", "user:u1"]
    assert jane.first_touch is not None
    assert jane.first_touch.source == "ads"
    assert (jane.first_seen, jane.last_seen) == (T0, T0 + timedelta(3))
    assert jane.version == 2  # one write per batch

    [absorbed] = [p for p in stored_profiles() if p.merged_into]
    assert absorbed.merged_into == jane.profile_id
    assert absorbed.traits == {"plan": "pro"}  # its history is kept
    [merge] = store.merge_records(jane.profile_id)
    assert merge["absorbedId"] == absorbed.profile_id
    assert merge["reason"] == "identify"
    assert merge["identities"] == ["anon:phone"]


def test_a_batch_costs_two_reads_and_one_write_per_profile(stream: Stream, calls: Counter[str]) -> None:
    people = [("u1", "a1"), ("u2", "a2"), ("u3", "a3")]

    def batch(start: datetime) -> list[TrackedEvent]:
        views = [
            tracked("track", anonymousId=anon, event="Viewed", at=start + timedelta(minutes=minute))
            for minute, (_, anon) in enumerate(people * 8)
        ]
        return views + [tracked("identify", userId=user, anonymousId=anon, at=start) for user, anon in people]

    stream.deliver(batch(T0))
    # Nobody is known yet: one read finds no identity, so there are no profiles to read.
    assert calls == {"BatchGetItem": 1, "TransactWriteItems": 3}
    calls.clear()
    stream.deliver(batch(T0 + timedelta(days=1)))
    assert calls == {"BatchGetItem": 2, "TransactWriteItems": 3}
    assert len(stored_profiles()) == 3


def test_a_profile_with_more_than_100_items_to_write_is_split_founder_first(stream: Stream) -> None:
    # A server-side import: one user seen on 100 browsers in one batch, 1 profile + 101 identities to write.
    transactions: list[list[str]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        transactions.append([action["Put"]["Item"]["pk"]["S"] for action in params["TransactItems"]])

    dynamodb().meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", capture)
    stream.deliver([tracked("identify", userId="importer", anonymousId=f"a{i:03}") for i in range(100)])

    profile = live("user", "importer")
    assert len(profile.identities) == 101
    assert {owner("anon", f"a{i:03}") for i in range(100)} == {profile.profile_id}
    assert [len(items) for items in transactions] == [100, 2]
    # The profile and the identity it was founded on (its first anonymous id) land together, first.
    assert transactions[0][:2] == [f"PROFILE#{profile.profile_id}", "IDENTITY#anon#a000"]


def test_a_redelivered_batch_changes_nothing(stream: Stream, calls: Counter[str]) -> None:
    batch = [
        tracked("page", anonymousId="a1"),
        tracked("identify", userId="u1", traits={"email": "jo@example.com", "score": 2.5}),
        tracked("alias", previousId="a1", userId="u1"),
        tracked(
            "track", anonymousId="a2", event="Form Submitted", context={"traits": {"email": "jo@example.com"}}
        ),
    ]
    stream.deliver(batch)
    before = main_items()
    calls.clear()
    stream.deliver(batch)
    stream.deliver(batch[2:])
    assert writes(calls) == 0
    assert main_items() == before


def test_a_concurrent_writer_is_read_again_and_both_updates_land(stream: Stream, calls: Counter[str]) -> None:
    stream.deliver([tracked("identify", userId="u1", traits={"plan": "free"})])
    other_shard = Stream.__new__(Stream)
    other_shard.__dict__.update(stream.__dict__)
    raced: list[bool] = []

    def race(**_: Any) -> None:
        # Just before our transaction goes out, another shard's batch updates the same profile.
        if not raced:
            raced.append(True)
            other_shard.deliver([tracked("identify", userId="u1", traits={"company": "Acme"})])

    dynamodb().meta.events.register("before-call.dynamodb.TransactWriteItems", race)
    calls.clear()
    stream.deliver([tracked("identify", userId="u1", traits={"plan": "pro"}, at=T0 + timedelta(1))])

    profile = live("user", "u1")
    assert profile.traits == {"plan": "pro", "company": "Acme"}
    assert profile.version == 3  # created, the other shard's write, ours
    assert calls["TransactWriteItems"] == 3  # ours lost once, the other shard's, ours again
    assert calls["BatchGetItem"] == 6  # two reads per attempt of ours, two for the other shard


def test_two_batches_never_create_two_profiles_for_one_identity(stream: Stream) -> None:
    raced: list[bool] = []

    def race(**_: Any) -> None:
        if not raced:
            raced.append(True)
            stream.deliver([tracked("identify", userId="u9", anonymousId="tablet", traits={"name": "Ann"})])

    dynamodb().meta.events.register("before-call.dynamodb.TransactWriteItems", race)
    stream.deliver([tracked("identify", userId="u9", anonymousId="desktop", traits={"title": "CFO"})])

    [profile] = stored_profiles()  # the desktop's would-be profile was never stored
    assert profile.profile_id == owner("user", "u9") == owner("anon", "desktop") == owner("anon", "tablet")
    assert profile.traits == {"name": "Ann", "title": "CFO"}


def test_a_poison_record_is_reported_and_the_rest_are_applied(stream: Stream) -> None:
    good = [tracked("page", anonymousId="a1"), tracked("identify", userId="u1", anonymousId="a2")]
    poison = stream.record(tracked("page", anonymousId="a3"))
    poison["dynamodb"]["NewImage"]["message"] = {"S": '{"type": "page", "truncated'}
    removal = stream.record(tracked("page", anonymousId="a4"))
    removal["eventName"] = "REMOVE"  # TTL expiry; the trigger's filter drops it, and so do we

    response = stream.send([stream.record(good[0]), poison, removal, stream.record(good[1])])

    assert response == {"batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    assert {owner("anon", "a1"), owner("user", "u1")} == {p.profile_id for p in stored_profiles()}


# --- at-least-once delivery, end to end ---------------------------------------------------------------
ANONS = ["a1", "a2", "a3"]
USERS = ["u1", "u2"]
EMAILS = ["one@example.com", "two@example.com"]


@st.composite
def sequences(draw: st.DrawFn) -> list[TrackedEvent]:
    events = []
    for index in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["page", "identify", "alias"]))
        message: dict[str, Any] = {"type": kind, "messageId": f"m{index}"}
        if kind == "alias":
            message.update(previousId=draw(st.sampled_from(ANONS)), userId=draw(st.sampled_from(USERS)))
        else:
            message["anonymousId"] = draw(st.sampled_from(ANONS))
            if kind == "identify":
                message["userId"] = draw(st.none() | st.sampled_from(USERS))
                message["traits"] = {"plan": draw(st.integers(0, 2))}
            if draw(st.booleans()):
                message["context"] = {"traits": {"email": draw(st.sampled_from(EMAILS))}}
        received = T0 + timedelta(seconds=10 * index)
        message["timestamp"] = (received + timedelta(hours=draw(st.integers(-2, 0)))).isoformat()
        events.append(SegmentMessage.model_validate(message).to_tracked("src-test", received))
    return events


@st.composite
def redeliveries(draw: st.DrawFn, events: list[TrackedEvent]) -> list[list[TrackedEvent]]:
    cuts = sorted(draw(st.sets(st.integers(1, len(events) - 1), max_size=3))) if len(events) > 1 else []
    bounds = [0, *cuts, len(events)]
    batches = [
        events[max(0, start - draw(st.integers(0, 2))) : end] for start, end in itertools.pairwise(bounds)
    ]
    if draw(st.booleans()):
        batches.append(events)  # the whole sequence again
    return batches


def wipe(items: list[dict[str, Any]]) -> None:
    deletes = [{"DeleteRequest": {"Key": {"pk": {"S": i["pk"]}, "sk": {"S": i["sk"]}}}} for i in items]
    for start in range(0, len(deletes), 25):
        boto3.client("dynamodb").batch_write_item(
            RequestItems={get_settings().main_table: deletes[start : start + 25]}
        )


def stored_after(stream: Stream, batches: list[list[TrackedEvent]]) -> list[dict[str, Any]]:
    """What delivering the batches stores; the table is emptied again for the next delivery, whatever
    happened (the examples of a property share the table)."""
    try:
        for batch in batches:
            assert stream.deliver(batch) == {"batchItemFailures": []}
    finally:
        items = main_items()
        wipe(items)
    # Versions count writes, which batching changes; everything else must be identical.
    return sorted(({k: v for k, v in item.items() if k != "version"} for item in items), key=str)


# The stream fixture is shared by the examples on purpose: each delivery empties the table after itself.
@settings(
    max_examples=40,
    suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_split_and_redelivery_stores_the_same_items(stream: Stream, data: st.DataObject) -> None:
    events = data.draw(sequences())
    expected = stored_after(stream, [events])
    assert stored_after(stream, data.draw(redeliveries(events))) == expected

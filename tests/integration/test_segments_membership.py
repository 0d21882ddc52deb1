"""Segment membership on moto, whole paths: API → backfill through the timer queue, the profile stream
(entries, exits, echoes, redelivery, merges), time-based expiry by the person's timer, and exactly-once
activity counting in scoring."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import boto3
import pytest
from scoring_support import LambdaContext, Stream, tracked

from audience.store import is_member, member_count, member_ids_page
from leadstream import clock, keys, timers
from leadstream.api import check_if_match
from leadstream.profiles import IdentityRef, Profile
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_put, serialize
from leadstream.store.profiles import profile_item
from leadstream_local.lambda_events import dynamodb_stream_event, sqs_record
from leadstream_local.timers import OneTimeSchedules

GERMANY = {"type": "trait", "path": "country", "op": "eq", "value": "germany"}


def person(profile_id: str, *, version: int = 1, **fields: Any) -> Profile:
    profile = Profile.model_validate({"profileId": profile_id, "version": version, **fields})
    if "email" in fields:
        profile.add_identity(IdentityRef(kind="email", value=fields["email"]))
    return profile


def store(*profiles: Profile) -> None:
    batch_put(get_settings().main_table, [profile_item(profile) for profile in profiles])


class ProfileStream:
    """The main table's stream as the AudienceFunction receives it (profile items, old and new image)."""

    def __init__(self, template: Any) -> None:
        self.arn = template.physical["MainTable"]["StreamArn"]
        self.sequence = 0

    def record(self, old: Profile | None, new: Profile) -> dict[str, Any]:
        self.sequence += 1
        change: dict[str, Any] = {
            "Keys": serialize(keys.profile_key(new.profile_id)),
            "NewImage": serialize(profile_item(new)),
            "SequenceNumber": str(self.sequence).zfill(21),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if old is not None:
            change["OldImage"] = serialize(profile_item(old))
        return {
            "eventID": f"e{self.sequence}",
            "eventName": "MODIFY" if old else "INSERT",
            "dynamodb": change,
        }

    def send(self, *records: dict[str, Any]) -> dict[str, Any]:
        from handlers.audience_stream import lambda_handler

        result: dict[str, Any] = lambda_handler(
            dynamodb_stream_event(records, stream_arn=self.arn), LambdaContext()
        )
        return result


def drain_timers(template: Any) -> int:
    """Deliver every message on the timer queue to the TimerFunction until the queue is empty."""
    from handlers.timers import lambda_handler

    sqs = boto3.client("sqs")
    url, arn = template.physical["TimerQueue"]["Ref"], template.physical["TimerQueue"]["Arn"]
    delivered = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        event = {"Records": [sqs_record(message, queue_arn=arn) for message in messages]}
        assert lambda_handler(event, LambdaContext())["batchItemFailures"] == []
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        delivered += len(messages)
    return delivered


@pytest.fixture
def scheduler(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move the clock: due one-time schedules fire into the timer queue, which is then drained."""

    def moved(offset: timedelta) -> None:
        monkeypatch.setenv(clock.OFFSET_VARIABLE, str(offset.total_seconds()))

    local = OneTimeSchedules(sqs_client=boto3.client("sqs"), ssm_client=boto3.client("ssm"), on_offset=moved)

    def advance(by: timedelta) -> None:
        local.advance(by)
        drain_timers(aws)

    return advance


def test_a_segment_fills_by_backfill_then_follows_each_person(
    aws: Any, call_api: Any, token_for: Any
) -> None:
    alice = person("p-alice", email="alice@acme.de", traits={"country": "Germany", "name": "Alice"})
    bob = person("p-bob", email="bob@acme.com", traits={"country": "US"})
    visitor = person("p-anon", traits={"country": "Germany"})  # anonymous: a member of nothing
    store(alice, bob, visitor)
    token = token_for("marketing")

    created = call_api(
        "POST", "/marketing/segments", body={"name": "Germany", "condition": GERMANY}, token=token
    )
    assert created.status == 201
    segment_id = created.json()["segmentId"]
    assert member_count(segment_id) == 0  # the backfill's first page is on the timer queue
    drain_timers(aws)  # at once: no waiting for caches to expire
    assert member_ids_page(segment_id, limit=10, start=None) == (["p-alice"], None)
    count = call_api("GET", f"/marketing/segments/{segment_id}/count", token=token).json()
    assert count == {"segmentId": segment_id, "count": 1, "complete": True}
    members = call_api("GET", f"/marketing/segments/{segment_id}/members", token=token).json()
    assert members["items"] == [
        {"profileId": "p-alice", "email": "alice@acme.de", "name": "Alice", "stage": None, "score": 0.0,
         "fit": 0, "grade": None}
    ]  # fmt: skip
    assert members["nextCursor"] is None

    # Bob moves to Germany: his profile's stream record makes him a member; a redelivery counts nothing.
    moved = bob.model_copy(update={"version": 2, "traits": {"country": "Germany"}}, deep=True)
    record = ProfileStream(aws).record(bob, moved)
    stream = ProfileStream(aws)
    stream.send(record)
    stream.send(record)
    assert member_count(segment_id) == 2
    assert is_member(segment_id, "p-bob")

    # The stream echoing a write that changed nothing a condition reads costs no DynamoDB call at all.
    from audience import membership

    seen = moved.model_copy(update={"version": 3, "last_seen": datetime.now(UTC)}, deep=True)
    from leadstream.profiles import ProfileChange

    assert membership.apply([ProfileChange(old=moved, new=seen)]) == []

    # Alice is absorbed into another profile: she leaves.
    absorbed = alice.model_copy(update={"version": 2, "merged_into": "p-other"}, deep=True)
    changes = membership.apply([ProfileChange(old=alice, new=absorbed)])
    assert [(c.segment_id, c.profile_id, c.entered) for c in changes] == [(segment_id, "p-alice", False)]
    assert member_count(segment_id) == 1

    # A new condition is a new backfill: by the new rule Bob leaves (the US office never moved).
    etag = call_api("GET", f"/marketing/segments/{segment_id}", token=token).headers["etag"]
    us = {"type": "trait", "path": "country", "op": "in", "values": ["us", "usa"]}
    store(moved)
    updated = call_api(
        "PUT", f"/marketing/segments/{segment_id}", body={"name": "US", "condition": us},
        headers=[("If-Match", etag)], token=token,
    )  # fmt: skip
    assert updated.status == 200
    drain_timers(aws)
    assert member_count(segment_id) == 0
    assert updated.json()["backfill"]["version"] == 2


def test_time_based_membership_expires_by_the_persons_timer(
    aws: Any, scheduler: Callable[[timedelta], None]
) -> None:
    from audience import definitions
    from audience.segments import SegmentContent
    from leadstream.profiles import ProfileChange

    today = clock.now().date().isoformat()
    segment = definitions.create(
        SegmentContent.model_validate(
            {
                "name": "Active this week",
                "condition": {"type": "activity", "key": "Page Viewed", "op": "at_least", "days": 2},
            }
        ),
        user="u1",
    )
    drain_timers(aws)  # the (empty) backfill runs
    before = person("p-1", email="jo@acme.io")
    after = person("p-1", version=2, email="jo@acme.io", activity={"Page Viewed": {today: 1}})
    store(after)
    from audience import membership

    (entry,) = membership.apply([ProfileChange(old=before, new=after)])
    assert (entry.segment_id, entry.entered) == (segment.segment_id, True)
    schedules = boto3.client("scheduler").list_schedules(GroupName=timers._config().group)["Schedules"]
    assert [s["Name"] for s in schedules] == [timers.schedule_name("segment", "p-1")]

    scheduler(timedelta(days=1))
    assert is_member(segment.segment_id, "p-1")  # today and yesterday are still the last 2 days
    scheduler(timedelta(days=2, minutes=2))  # the page view's day has left the window at midnight
    assert not is_member(segment.segment_id, "p-1")
    assert member_count(segment.segment_id) == 0
    assert boto3.client("scheduler").list_schedules(GroupName=timers._config().group)["Schedules"] == []


def run_timer_queue(template: Any) -> None:
    """Hand every message on the timer queue to the segment timers directly (inside a DynamoDB call of
    another function, where the TimerFunction's own batch processor cannot be entered again)."""
    from audience import membership

    sqs = boto3.client("sqs")
    url = template.physical["TimerQueue"]["Ref"]
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            membership.on_timer(timers.Timer.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@contextmanager
def before_first(operation: str, act: Callable[[], None]) -> Iterator[None]:
    """Run `act` once, just before the first DynamoDB `operation` call made inside the block: another
    function doing its work at that moment."""
    from leadstream.aws import dynamodb

    done: list[bool] = []

    def hook(**_: Any) -> None:
        if not done:
            done.append(True)
            act()

    events = dynamodb().meta.events
    events.register(f"before-call.dynamodb.{operation}", hook, unique_id="segments-race")
    try:
        yield
    finally:
        events.unregister(f"before-call.dynamodb.{operation}", unique_id="segments-race")


def content(name: str, condition: dict[str, Any]) -> Any:
    from audience.segments import SegmentContent

    return SegmentContent.model_validate({"name": name, "condition": condition})


US = {"type": "trait", "path": "country", "op": "eq", "value": "us"}


def test_a_definition_change_counts_for_the_very_next_change(aws: Any, call_api: Any, token_for: Any) -> None:
    from audience import membership
    from leadstream.aws import dynamodb
    from leadstream.profiles import ProfileChange

    token = token_for("marketing")
    call_api("POST", "/marketing/segments", body={"name": "US", "condition": US}, token=token)
    drain_timers(aws)
    ann = person("p-ann", email="ann@acme.com", traits={"country": "US"})
    store(ann)
    membership.apply([ProfileChange(old=None, new=ann)])  # a warm container: it holds the definitions

    created = call_api(
        "POST", "/marketing/segments", body={"name": "Germany", "condition": GERMANY}, token=token
    ).json()
    bob = person("p-bob", email="bob@acme.com", traits={"country": "US"})
    moved = bob.model_copy(update={"version": 2, "traits": {"country": "Germany"}}, deep=True)
    calls: list[str] = []
    dynamodb().meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    entered = membership.apply([ProfileChange(old=bob, new=moved)])  # no clock moved, no timer run

    assert [(c.segment_id, c.entered) for c in entered] == [(created["segmentId"], True)]
    # The registry came with the memberships; the definitions were read again because it had moved.
    assert [call for call in calls if call in ("GetItem", "BatchGetItem", "Query")] == [
        "BatchGetItem", "BatchGetItem", "BatchGetItem", "GetItem"
    ]  # fmt: skip

    etag = call_api("GET", f"/marketing/segments/{created['segmentId']}", token=token).headers["etag"]
    call_api(
        "PUT", f"/marketing/segments/{created['segmentId']}", body={"name": "Germany", "condition": US},
        headers=[("If-Match", etag)], token=token,
    )  # fmt: skip
    renamed = moved.model_copy(
        update={"version": 3, "traits": {"country": "Germany", "city": "Köln"}}, deep=True
    )
    left = membership.apply([ProfileChange(old=moved, new=renamed)])
    assert [(c.segment_id, c.entered) for c in left] == [(created["segmentId"], False)]

    calls.clear()
    back = renamed.model_copy(update={"version": 4, "traits": {"country": "Germany"}}, deep=True)
    assert membership.apply([ProfileChange(old=renamed, new=back)]) == []
    # Nothing changed and nothing was written: the memberships' read was the only call.
    assert calls == ["BatchGetItem"]


def test_a_batch_that_raced_a_definition_change_evaluates_again(
    aws: Any, call_api: Any, token_for: Any
) -> None:
    from audience import definitions, membership
    from leadstream.profiles import ProfileChange

    alice = person("p-alice", email="alice@acme.de", traits={"country": "Germany"})
    bob = person("p-bob", email="bob@acme.com", traits={"country": "US"})
    store(alice, bob)
    segment = definitions.create(content("Germany", GERMANY), user="u1")
    drain_timers(aws)
    assert member_ids_page(segment.segment_id, limit=10, start=None) == (["p-alice"], None)
    moved = bob.model_copy(update={"version": 2, "traits": {"country": "Germany"}}, deep=True)
    store(moved)

    def new_condition_and_its_backfill() -> None:
        definitions.update(
            segment.segment_id, content("US", US), check_version=partial(check_if_match, '"1"'), user="u1"
        )
        run_timer_queue(aws)  # the backfill runs at once: Alice leaves, Bob (in Germany now) stays out

    # Bob's batch read the old definition; its write lands after the backfill of the new one.
    with before_first("TransactWriteItems", new_condition_and_its_backfill):
        changes = membership.apply([ProfileChange(old=bob, new=moved)])

    assert [(c.profile_id, c.entered) for c in changes] == [("p-bob", True), ("p-bob", False)]
    assert member_count(segment.segment_id) == 0
    assert not is_member(segment.segment_id, "p-bob")


def test_a_backfill_page_stops_when_its_condition_changes(aws: Any) -> None:
    from audience import definitions
    from audience.store import get_segment

    store(
        person("p-alice", email="alice@acme.de", traits={"country": "Germany"}),
        person("p-carl", email="carl@acme.de", traits={"country": "Germany"}),
    )
    segment = definitions.create(content("Germany", GERMANY), user="u1")

    def new_condition_and_its_backfill() -> None:
        definitions.update(
            segment.segment_id, content("US", US), check_version=partial(check_if_match, '"1"'), user="u1"
        )
        run_timer_queue(aws)  # the new pass: nobody is in the US

    # The first pass's page is running when the condition changes and the new pass has done its work.
    with before_first("TransactWriteItems", new_condition_and_its_backfill):
        drain_timers(aws)

    assert member_count(segment.segment_id) == 0
    stored = get_segment(segment.segment_id)
    assert stored is not None
    assert stored.backfill is not None
    assert (stored.backfill.version, stored.backfill.done, stored.backfill.evaluated) == (2, True, 2)


def test_segments_saved_before_the_registry_keep_counting(aws: Any) -> None:
    from audience import definitions, membership
    from audience.store import read_registry
    from leadstream.profiles import ProfileChange

    old = definitions.create(content("Germany", GERMANY), user="u1")
    drain_timers(aws)
    # A table from before the registry: its segments are only in the list index.
    boto3.client("dynamodb").delete_item(
        TableName=get_settings().main_table, Key=serialize(keys.segment_registry_key())
    )
    dana = person("p-dana", email="dana@acme.us", traits={"country": "US"})
    moved = dana.model_copy(update={"version": 2, "traits": {"country": "Germany"}}, deep=True)
    assert [c.segment_id for c in membership.apply([ProfileChange(old=dana, new=moved)])] == [old.segment_id]

    new = definitions.create(content("US", US), user="u1")  # the first change seeds the registry
    registry = read_registry()
    assert registry is not None
    assert registry.segment_ids == {old.segment_id, new.segment_id}
    back = moved.model_copy(update={"version": 3, "traits": {"country": "US"}}, deep=True)
    changes = membership.apply([ProfileChange(old=moved, new=back)])
    assert {(c.segment_id, c.entered) for c in changes} == {(old.segment_id, False), (new.segment_id, True)}


def test_scoring_counts_activity_once_even_when_the_stream_redelivers(aws: Any, source: Any) -> None:
    from leadstream.store.profiles import profile_of

    stream = Stream(aws)
    identify = tracked("identify", userId="u-9", traits={"email": "kim@acme.io"})
    download = tracked("track", userId="u-9", event="Content Downloaded")
    stream.deliver([identify, download])
    stream.deliver([download])  # the same record again
    profile = profile_of(IdentityRef(kind="user", value="u-9"))
    assert profile is not None
    assert profile.activity == {"Content Downloaded": {download.timestamp.date().isoformat(): 1}}

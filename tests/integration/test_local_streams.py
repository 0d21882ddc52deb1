"""The local stream poller against moto's DynamoDB Streams, with small test handlers.

Checks Lambda's event source mapping behaviour: batch size, filters, ReportBatchItemFailures, retries,
bisection and the on-failure destination.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest

from leadstream_local.streams import StreamPoller, StreamSource
from leadstream_local.template import StackTemplate

TABLE = "EventsTable"  # the template's table with a NEW_IMAGE stream


@dataclass
class Recorder:
    """A test handler: records each batch's keys, then behaves as `respond` says."""

    respond: Callable[[list[dict[str, Any]], int], Any] = lambda _records, _call: None
    batches: list[list[str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        self.batches.append([record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"]])
        return self.respond(event["Records"], len(self.batches))


@pytest.fixture
def stack(aws: StackTemplate) -> StackTemplate:
    aws.create_queues(boto3.client("sqs"))
    return aws


@pytest.fixture
def source(stack: StackTemplate) -> StreamSource:
    return StreamSource(
        function="TestFunction",
        event_name="Stream",
        stream_arn=stack.physical[TABLE]["StreamArn"],
        batch_size=10,
        on_failure=stack.physical["StreamFailureQueue"]["Arn"],
    )


def _poller(source: StreamSource, handler: Recorder) -> StreamPoller:
    return StreamPoller(
        source,
        handler,
        streams_client=boto3.client("dynamodbstreams"),
        sqs_client=boto3.client("sqs"),
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:test",
    )


def _put(*keys: str, **attributes: str) -> None:
    client = boto3.client("dynamodb")
    for key in keys:
        item = {"pk": {"S": key}, "sk": {"S": "EVENT"}, **{k: {"S": v} for k, v in attributes.items()}}
        client.put_item(TableName=TABLE, Item=item)


def _drain(poller: StreamPoller, cycles: int = 50) -> None:
    """Poll until a cycle finds nothing to read or deliver (each retry takes one cycle)."""
    for _ in range(cycles):
        if poller.poll_once():
            return
    raise AssertionError(f"the poller was still busy after {cycles} cycles")


def _failure_messages(stack: StackTemplate) -> Iterator[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = stack.physical["StreamFailureQueue"]["Ref"]
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        yield json.loads(message["Body"])


def test_batches_respect_batch_size_and_order(source: StreamSource) -> None:
    keys = [f"k{i}" for i in range(7)]
    _put(*keys)
    handler = Recorder()
    _drain(_poller(replace(source, batch_size=3), handler))
    assert handler.batches == [keys[0:3], keys[3:6], keys[6:7]]


def test_records_have_lambdas_shape(stack: StackTemplate, source: StreamSource) -> None:
    _put("k1", color="red")
    handler = Recorder()
    _drain(_poller(source, handler))
    (record,) = handler.events[0]["Records"]
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == stack.physical[TABLE]["StreamArn"]
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["dynamodb"]["NewImage"]["color"] == {"S": "red"}
    json.dumps(handler.events[0])  # what Lambda delivers is JSON


def test_filter_criteria_drop_modify_and_remove_records(source: StreamSource) -> None:
    _put("k1")
    _put("k1", color="blue")  # MODIFY
    boto3.client("dynamodb").delete_item(TableName=TABLE, Key={"pk": {"S": "k1"}, "sk": {"S": "EVENT"}})
    handler = Recorder()
    _drain(_poller(replace(source, filters=({"eventName": ["INSERT"]},)), handler))
    assert [r["eventName"] for event in handler.events for r in event["Records"]] == ["INSERT"]


def test_filter_matches_nested_keys(source: StreamSource) -> None:
    _put("k1", type="track")
    _put("k2", type="page")
    pattern = {"dynamodb": {"NewImage": {"type": {"S": ["track", "identify"]}}}}
    handler = Recorder()
    _drain(_poller(replace(source, filters=(pattern,)), handler))
    assert handler.batches == [["k1"]]


def test_reported_item_failure_is_redelivered_from_the_lowest_failure(source: StreamSource) -> None:
    keys = [f"k{i}" for i in range(5)]
    _put(*keys)

    def fail_k3_and_k2_once(records: list[dict[str, Any]], call: int) -> dict[str, Any]:
        if call > 1:
            return {"batchItemFailures": []}
        failed = [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] in ("k3", "k2")]
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]}

    handler = Recorder(respond=fail_k3_and_k2_once)
    _drain(_poller(replace(source, report_item_failures=True), handler))
    # k0 and k1 succeeded and are not sent again; everything from k2 on is.
    assert handler.batches == [keys, ["k2", "k3", "k4"]]


def test_item_failures_are_ignored_without_report_batch_item_failures(source: StreamSource) -> None:
    _put("k0", "k1")
    handler = Recorder(respond=lambda records, _call: {"batchItemFailures": [{"itemIdentifier": "x"}]})
    _drain(_poller(source, handler))
    assert handler.batches == [["k0", "k1"]]


def test_raising_handler_is_retried_then_the_batch_goes_to_the_failure_queue(
    stack: StackTemplate, source: StreamSource
) -> None:
    _put("k0", "k1")

    def always_raise(_records: list[dict[str, Any]], _call: int) -> None:
        raise RuntimeError("cannot process")

    handler = Recorder(respond=always_raise)
    poller = _poller(replace(source, maximum_retry_attempts=2), handler)
    _drain(poller)
    assert handler.batches == [["k0", "k1"]] * 3  # the first attempt and two retries

    (message,) = _failure_messages(stack)
    info = message["DDBStreamBatchInfo"]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert info["batchSize"] == 2
    assert info["streamArn"] == source.stream_arn
    first, last = (record["dynamodb"]["SequenceNumber"] for record in handler.events[0]["Records"])
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (first, last)

    # The poller moved on: later records are delivered.
    handler.respond = lambda _records, _call: None
    _put("k2")
    _drain(poller)
    assert handler.batches[-1] == ["k2"]


def test_bisection_isolates_a_poison_record(stack: StackTemplate, source: StreamSource) -> None:
    _put("ok0", "poison", "ok1", "ok2")
    delivered: list[str] = []

    def raise_on_poison(records: list[dict[str, Any]], _call: int) -> None:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
        if "poison" in keys:
            raise RuntimeError("poison")
        delivered.extend(keys)

    handler = Recorder(respond=raise_on_poison)
    _drain(_poller(replace(source, bisect_on_error=True, maximum_retry_attempts=1), handler))
    assert delivered == ["ok0", "ok1", "ok2"]  # each good record once, in order
    assert handler.batches.count(["poison"]) == 2  # the lone record: one attempt, one retry
    (message,) = _failure_messages(stack)
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1


def test_from_template_properties(stack: StackTemplate) -> None:
    function = next(f for f in stack.functions() if f.events_of_type("DynamoDB"))
    ((name, props),) = function.events_of_type("DynamoDB").items()
    parsed = StreamSource.from_properties(function.logical_id, name, stack.resolve(props))
    assert parsed.stream_arn == stack.physical[TABLE]["StreamArn"]
    assert parsed.on_failure == stack.physical["StreamFailureQueue"]["Arn"]
    assert parsed.filters == ({"eventName": ["INSERT"]},)


def test_wait_idle_returns_once_everything_written_is_delivered(source: StreamSource) -> None:
    from leadstream_local.streams import wait_idle

    handler = Recorder()
    poller = _poller(source, handler)
    poller.start()
    try:
        _put("k0", "k1", "k2")
        assert wait_idle([poller], timeout=30)
    finally:
        poller.stop()
    assert sorted(key for batch in handler.batches for key in batch) == ["k0", "k1", "k2"]

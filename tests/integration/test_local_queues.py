"""The local stack's SQS event sources, SNS subscriptions and SES event publishing, against moto with
small test handlers: batches, ReportBatchItemFailures, redelivery after the visibility timeout, the
dead-letter queue, filters, the SNS event shape and SES's Send/Delivery/Bounce notifications."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from leadstream_local.queues import QueuePoller, QueueSource, subscribe_function
from leadstream_local.ses_events import SesEventPublisher
from leadstream_local.template import SesEventDestination, StackTemplate


@dataclass
class Recorder:
    """A test handler: records each batch's bodies, then answers as `respond` says."""

    respond: Callable[[list[dict[str, Any]], int], Any] = lambda _records, _call: None
    batches: list[list[str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        self.batches.append([record.get("body") or record["Sns"]["Message"] for record in event["Records"]])
        return self.respond(event["Records"], len(self.batches))


def _queue(
    name: str, *, visibility: int = 60, dead_letter: str | None = None, max_receives: int = 2
) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    attributes = {"VisibilityTimeout": str(visibility)}
    if dead_letter:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dead_letter, "maxReceiveCount": max_receives}
        )
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _poller(url: str, arn: str, handler: Recorder, **options: Any) -> QueuePoller:
    source = QueueSource(function="Test", event_name="Queue", queue_url=url, queue_arn=arn, **options)
    return QueuePoller(source, handler, sqs_client=boto3.client("sqs"))


def _send(url: str, *bodies: str) -> None:
    for body in bodies:
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=body)


def _count(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _time_passes(url: str, handler: Recorder) -> None:
    """The visibility timeout of the messages of the last batch runs out (without waiting for it)."""
    sqs = boto3.client("sqs")
    for record in handler.events[-1]["Records"]:
        handle = record.get("receiptHandle")
        if handle is None:  # an SNS record: its queue message is the only one in flight
            continue
        with contextlib.suppress(sqs.exceptions.ReceiptHandleIsInvalid):  # deleted: it succeeded
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)


@pytest.fixture
def stack(aws: StackTemplate) -> StackTemplate:
    return aws


def test_a_batch_is_delivered_in_the_lambda_shape_and_deleted(stack: StackTemplate) -> None:
    url, arn = _queue("q-basic")
    handler = Recorder()
    _send(url, "a", "b", "c")
    poller = _poller(url, arn, handler, batch_size=10)
    assert poller.poll_once() is False
    assert sorted(handler.batches[0]) == ["a", "b", "c"]
    record = handler.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "md5OfBody", "messageAttributes", "awsRegion"} <= record.keys()
    assert poller.poll_once() is True
    assert _count(url) == 0


def test_batch_size_is_respected(stack: StackTemplate) -> None:
    url, arn = _queue("q-size")
    handler = Recorder()
    _send(url, *[str(n) for n in range(5)])
    poller = _poller(url, arn, handler, batch_size=2)
    while not poller.poll_once():
        pass
    assert [len(batch) for batch in handler.batches] == [2, 2, 1]


def test_reported_item_failures_come_back_after_the_visibility_timeout(stack: StackTemplate) -> None:
    url, arn = _queue("q-partial")

    def fail_b(records: list[dict[str, Any]], call: int) -> Any:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in records if r["body"] == "b" and call == 1
            ]
        }

    handler = Recorder(respond=fail_b)
    _send(url, "a", "b")
    poller = _poller(url, arn, handler, report_item_failures=True)
    poller.poll_once()
    assert poller.poll_once() is True  # b is invisible now
    _time_passes(url, handler)
    poller.poll_once()
    assert handler.batches[1] == ["b"]
    assert handler.events[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert _count(url) == 0


def test_without_report_item_failures_a_returned_failure_list_is_ignored(stack: StackTemplate) -> None:
    url, arn = _queue("q-ignored")
    handler = Recorder(
        respond=lambda records, _call: {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    )
    _send(url, "a")
    _poller(url, arn, handler).poll_once()
    assert _count(url) == 0


def test_a_malformed_failure_report_retries_the_whole_batch(stack: StackTemplate) -> None:
    url, arn = _queue("q-malformed")
    handler = Recorder(respond=lambda _records, _call: {"batchItemFailures": [{"itemIdentifier": "unknown"}]})
    _send(url, "a", "b")
    _poller(url, arn, handler, report_item_failures=True).poll_once()
    assert _count(url) == 2


def test_a_raising_handler_gets_the_batch_again_then_it_goes_to_the_dead_letter_queue(
    stack: StackTemplate,
) -> None:
    dlq_url, dlq_arn = _queue("q-dlq")
    url, arn = _queue("q-raises", dead_letter=dlq_arn, max_receives=2)

    def boom(_records: list[dict[str, Any]], _call: int) -> Any:
        raise RuntimeError("handler failed")

    handler = Recorder(respond=boom)
    _send(url, "poison")
    poller = _poller(url, arn, handler)
    poller.poll_once()
    _time_passes(url, handler)
    poller.poll_once()
    _time_passes(url, handler)
    assert poller.poll_once() is True  # the third receive moves it to the dead-letter queue instead
    assert len(handler.batches) == 2
    assert _count(dlq_url) == 1


def test_filtered_out_messages_are_dropped(stack: StackTemplate) -> None:
    from leadstream_local.filters import compile_filters

    url, arn = _queue("q-filter")
    handler = Recorder()
    _send(url, json.dumps({"kind": "keep"}), json.dumps({"kind": "drop"}), "not json")
    patterns = compile_filters({"Filters": [{"Pattern": '{"body": {"kind": ["keep"]}}'}]})
    _poller(url, arn, handler, filters=tuple(patterns)).poll_once()
    assert handler.batches == [[json.dumps({"kind": "keep"})]]
    assert _count(url) == 0


def test_sns_subscriptions_deliver_the_lambda_sns_shape_one_at_a_time(stack: StackTemplate) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="t-shape")["TopicArn"]
    source = subscribe_function(
        function="Test", event_name="Topic", props={"Topic": topic}, sns_client=sns, sqs_client=sqs
    )
    handler = Recorder()
    sns.publish(TopicArn=topic, Message="one", Subject="s")
    sns.publish(
        TopicArn=topic, Message="two", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}
    )
    poller = QueuePoller(source, handler, sqs_client=sqs)
    while not poller.poll_once():
        pass
    assert sorted(batch[0] for batch in handler.batches) == ["one", "two"]
    assert all(len(event["Records"]) == 1 for event in handler.events)
    record = next(e["Records"][0] for e in handler.events if e["Records"][0]["Sns"]["Message"] == "two")
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == source.subscription_arn
    sns_part = record["Sns"]
    assert sns_part["TopicArn"] == topic
    assert sns_part["Type"] == "Notification"
    assert {"MessageId", "Timestamp", "SigningCertUrl", "UnsubscribeUrl", "Signature"} <= sns_part.keys()
    assert sns_part["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}


def test_sns_filter_policies_apply(stack: StackTemplate) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="t-filter")["TopicArn"]
    props = {"Topic": topic, "FilterPolicy": {"kind": ["wanted"]}}
    source = subscribe_function(
        function="Test", event_name="Topic", props=props, sns_client=sns, sqs_client=sqs
    )
    handler = Recorder()
    for kind in ("wanted", "other"):
        sns.publish(
            TopicArn=topic,
            Message=kind,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )
    poller = QueuePoller(source, handler, sqs_client=sqs)
    while not poller.poll_once():
        pass
    assert handler.batches == [["wanted"]]


def test_a_failing_sns_subscriber_is_retried_twice_then_the_message_is_dropped(stack: StackTemplate) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="t-retry")["TopicArn"]
    source = subscribe_function(
        function="Test", event_name="Topic", props={"Topic": topic}, sns_client=sns, sqs_client=sqs
    )

    def boom(_records: list[dict[str, Any]], _call: int) -> Any:
        raise RuntimeError("subscriber failed")

    handler = Recorder(respond=boom)
    sqs.set_queue_attributes(
        QueueUrl=source.queue_url, Attributes={"VisibilityTimeout": "0"}
    )  # retry at once
    sns.publish(TopicArn=topic, Message="m")
    poller = QueuePoller(source, handler, sqs_client=sqs)
    for _ in range(3):
        poller.poll_once()
    assert poller.poll_once() is True
    assert len(handler.batches) == 3
    assert _count(source.queue_url) == 0


# --- SES events ---------------------------------------------------------------------------------------------
def _ses_setup(
    stack: StackTemplate, *, types: frozenset[str]
) -> tuple[SesEventPublisher, QueuePoller, Recorder]:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="t-ses")["TopicArn"]
    source = subscribe_function(
        function="Test", event_name="Ses", props={"Topic": topic}, sns_client=sns, sqs_client=sqs
    )
    destination = SesEventDestination(configuration_set="marketing", topic_arn=topic, event_types=types)
    boto3.client("sesv2").create_email_identity(EmailIdentity="sender@example.com")
    handler = Recorder()
    return (
        SesEventPublisher([destination], sns_client=sns),
        QueuePoller(source, handler, sqs_client=sqs),
        handler,
    )


def _ses_send(to: str, *, configuration_set: str | None = "marketing") -> str:
    headers = f"X-SES-CONFIGURATION-SET: {configuration_set}\r\n" if configuration_set else ""
    raw = (
        f"From: sender@example.com\r\nTo: {to}\r\nSubject: Hello\r\nX-Leadstream-Message-Id: m-1\r\n{headers}"
        "Content-Type: text/plain\r\n\r\nHi\r\n"
    )
    response = boto3.client("sesv2").send_email(
        FromEmailAddress="sender@example.com",
        Destination={"ToAddresses": [to]},
        Content={"Raw": {"Data": raw.encode()}},
        ConfigurationSetName=configuration_set or "",
    )
    return str(response["MessageId"])


def _notifications(poller: QueuePoller, handler: Recorder) -> list[dict[str, Any]]:
    while not poller.poll_once():
        pass
    return [json.loads(batch[0]) for batch in handler.batches]


ALL_TYPES = frozenset({"send", "delivery", "bounce", "complaint"})


def test_a_sent_email_publishes_send_and_delivery(stack: StackTemplate) -> None:
    publisher, poller, handler = _ses_setup(stack, types=ALL_TYPES)
    ses_id = _ses_send("ada@example.com")
    assert publisher.poll_once() is False
    assert publisher.poll_once() is True  # each message once
    notifications = _notifications(poller, handler)
    assert sorted(n["eventType"] for n in notifications) == ["Delivery", "Send"]
    mail = notifications[0]["mail"]
    assert mail["messageId"] == ses_id
    assert mail["destination"] == ["ada@example.com"]
    assert {"name": "X-Leadstream-Message-Id", "value": "m-1"} in mail["headers"]
    assert not any(h["name"].lower().startswith("x-ses-") for h in mail["headers"])
    assert mail["tags"]["ses:configuration-set"] == ["marketing"]
    delivery = next(n for n in notifications if n["eventType"] == "Delivery")
    assert delivery["delivery"]["recipients"] == ["ada@example.com"]


def test_the_mailbox_simulator_bounces_and_complains(stack: StackTemplate) -> None:
    publisher, poller, handler = _ses_setup(stack, types=ALL_TYPES)
    _ses_send("bounce@simulator.amazonses.com")
    _ses_send("complaint@simulator.amazonses.com")
    publisher.poll_once()
    kinds = sorted(n["eventType"] for n in _notifications(poller, handler))
    assert kinds == ["Bounce", "Complaint", "Delivery", "Send", "Send"]
    bounce = next(n for n in (json.loads(b[0]) for b in handler.batches) if n["eventType"] == "Bounce")
    assert bounce["bounce"]["bounceType"] == "Permanent"


def test_only_subscribed_event_types_are_published(stack: StackTemplate) -> None:
    publisher, poller, handler = _ses_setup(stack, types=frozenset({"bounce"}))
    _ses_send("ada@example.com")
    publisher.poll_once()
    assert _notifications(poller, handler) == []


def test_a_message_without_a_configuration_set_publishes_nothing(stack: StackTemplate) -> None:
    publisher, poller, handler = _ses_setup(stack, types=ALL_TYPES)
    _ses_send("ada@example.com", configuration_set=None)
    publisher.poll_once()
    assert _notifications(poller, handler) == []

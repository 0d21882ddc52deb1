"""SQS event source mappings and SNS subscriptions of functions: what Lambda does, for the local stack.

`QueuePoller` is Lambda's SQS poller. It receives up to BatchSize messages (whatever is there, up to 10
per ReceiveMessage call), drops those the FilterCriteria reject (Lambda deletes them), invokes the function
with the rest and then deletes what succeeded:

- the handler returned: every message, except those named in `batchItemFailures` when the event source
  has ReportBatchItemFailures (a malformed or unknown identifier fails the whole batch, as in Lambda);
- the handler raised: none.

Messages not deleted become visible again when the queue's VisibilityTimeout (from the template) has
passed, and the queue's RedrivePolicy moves a message to its dead-letter queue after maxReceiveCount
receives; moto does both, as SQS does. MaximumBatchingWindowInSeconds and ScalingConfig are not emulated
(a batch is whatever is in the queue; one invocation per function at a time).

SNS subscriptions (`Type: SNS` events) are delivered the same way: the stack subscribes a queue of its own
to the topic (with the event's FilterPolicy), and a poller hands each notification to the function in
the SNS event shape, one per invocation. Lambda invokes SNS subscribers asynchronously: a handler that
raises gets the notification again (after a second here) up to two more times, then it is dropped.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadstream_local.filters import Pattern, compile_filters, passes
from leadstream_local.lambda_events import sns_record, sqs_record
from leadstream_local.polling import POLL_INTERVAL, BackgroundPoller

log = logging.getLogger("leadstream_local")

RECEIVE_LIMIT = 10  # ReceiveMessage's maximum
# Lambda's asynchronous invocation: the first try and two retries.
ASYNC_ATTEMPTS = 3
# The stack's own SNS delivery queues: a failed notification is retried after this many seconds.
SNS_RETRY_SECONDS = 1

Invoke = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class QueueSource:
    """A function's SQS event (or the stack's queue for one of its SNS subscriptions)."""

    function: str  # logical id
    event_name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_item_failures: bool = False
    filters: tuple[Pattern, ...] = ()
    # SNS subscriptions: one notification per invocation, in the SNS event shape, retried asynchronously.
    subscription_arn: str | None = None

    @classmethod
    def from_properties(
        cls, function: str, event_name: str, props: Mapping[str, Any], *, queue_url: str
    ) -> QueueSource:
        """From the SQS event's Properties in the template, with intrinsics resolved."""
        return cls(
            function=function,
            event_name=event_name,
            queue_url=queue_url,
            queue_arn=str(props["Queue"]),
            batch_size=int(props.get("BatchSize", 10)),
            report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            filters=tuple(compile_filters(props.get("FilterCriteria"))),
        )

    @property
    def region(self) -> str:
        return self.queue_arn.split(":")[3]  # arn:aws:sqs:REGION:ACCOUNT:NAME

    @property
    def is_sns(self) -> bool:
        return self.subscription_arn is not None


class QueuePoller(BackgroundPoller):
    """Delivers one queue to one function; `poll_once` runs one cycle, `start` a thread of them."""

    def __init__(
        self, source: QueueSource, invoke: Invoke, *, sqs_client: Any, poll_interval: float = POLL_INTERVAL
    ) -> None:
        super().__init__(f"queue poller for {source.function} ({source.event_name})", poll_interval)
        self.source = source
        self._invoke = invoke
        self._sqs = sqs_client

    def poll_once(self) -> bool:
        """One cycle: receive a batch and deliver it. True when the queue had nothing to deliver."""
        with self._lock:
            started = time.monotonic()
            messages = self._receive()
            if not messages:
                self.idle_cycle_started = started
                return True
            self.activity += len(messages)
            try:
                self._deliver(messages)
            finally:
                self.activity += 1  # the handler's writes may have fed a stream or queue; wait_idle notices
            return False

    # --- receiving and delivering ----------------------------------------------------------------
    def _receive(self) -> list[dict[str, Any]]:
        wanted = 1 if self.source.is_sns else self.source.batch_size
        messages: list[dict[str, Any]] = []
        while len(messages) < wanted:
            response = self._sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(RECEIVE_LIMIT, wanted - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            received = response.get("Messages", [])
            if not received:
                break
            messages.extend(received)
        return messages

    def _deliver(self, messages: Sequence[dict[str, Any]]) -> None:
        if self.source.is_sns:
            self._deliver_notification(messages[0])
            return
        records = [
            sqs_record(message, queue_arn=self.source.queue_arn, region=self.source.region)
            for message in messages
        ]
        delivered = [record for record in records if passes(self.source.filters, _filter_view(record))]
        self._delete([record for record in records if record not in delivered])  # filtered out: dropped
        if not delivered:
            return
        try:
            response = self._invoke({"Records": delivered})
        except Exception:
            log.exception("%s raised on a batch of %d SQS messages", self.source.function, len(delivered))
            return  # nothing deleted: the messages come back after the visibility timeout
        self._delete(self._succeeded(delivered, response))

    def _succeeded(self, records: Sequence[dict[str, Any]], response: Any) -> list[dict[str, Any]]:
        if not self.source.report_item_failures:
            return list(records)
        failures = response.get("batchItemFailures") if isinstance(response, Mapping) else None
        if not failures:
            return list(records)
        if not isinstance(failures, list):
            log.warning("%s: malformed batchItemFailures; the whole batch is retried", self.source.function)
            return []
        known = {record["messageId"] for record in records}
        named = {failure.get("itemIdentifier") for failure in failures if isinstance(failure, Mapping)}
        if len(named) != len(failures) or not named <= known:
            log.warning("%s: malformed batchItemFailures; the whole batch is retried", self.source.function)
            return []
        return [record for record in records if record["messageId"] not in named]

    def _deliver_notification(self, message: dict[str, Any]) -> None:
        envelope = json.loads(message["Body"])
        event = {"Records": [sns_record(envelope, subscription_arn=str(self.source.subscription_arn))]}
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            self._invoke(event)
        except Exception:
            log.exception("%s raised on SNS message %s", self.source.function, envelope.get("MessageId"))
            if receives < ASYNC_ATTEMPTS:
                return  # retried when the message is visible again
            log.error(
                "%s: dropping SNS message %s after %d attempts",
                self.source.function,
                envelope.get("MessageId"),
                receives,
            )
        self._sqs.delete_message(QueueUrl=self.source.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _delete(self, records: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(records), RECEIVE_LIMIT):
            chunk = records[start : start + RECEIVE_LIMIT]
            self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(chunk)
                ],
            )


def _filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What Lambda filters an SQS record on: the record, with a JSON body parsed (else the plain string)."""
    try:
        body: Any = json.loads(record["body"])
    except ValueError:
        body = record["body"]
    return {**record, "body": body}


def subscribe_function(
    *, function: str, event_name: str, props: Mapping[str, Any], sns_client: Any, sqs_client: Any
) -> QueueSource:
    """Subscribe a queue of the stack's own to the SNS event's topic; the source that delivers it."""
    topic_arn = str(props["Topic"])
    name = f"leadstream-local-sns-{function}-{event_name}"[:80]
    queue_url = sqs_client.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(SNS_RETRY_SECONDS)}
    )["QueueUrl"]
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    attributes: dict[str, str] = {}
    if "FilterPolicy" in props:
        policy = props["FilterPolicy"]
        attributes["FilterPolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
        if "FilterPolicyScope" in props:
            attributes["FilterPolicyScope"] = str(props["FilterPolicyScope"])
    subscription = sns_client.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return QueueSource(
        function=function,
        event_name=event_name,
        queue_url=queue_url,
        queue_arn=queue_arn,
        batch_size=1,
        subscription_arn=str(subscription["SubscriptionArn"]),
    )

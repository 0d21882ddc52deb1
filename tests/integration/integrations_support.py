"""Helpers for the integrations tests on moto: the main table's stream as Lambda delivers it to the
catalog function, the events the bus kept, the webhook queue pumped into its function, a receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from scoring_support import LambdaContext

from leadstream_local.lambda_events import dynamodb_stream_event, sqs_record
from leadstream_local.template import StackTemplate

ACCOUNT = "123456789012"
REGION = "us-east-1"


class MainStream:
    """Reads the main table's stream (moto) from where it was last read, as Lambda batches."""

    def __init__(self, template: StackTemplate) -> None:
        self.arn = template.physical["MainTable"]["StreamArn"]
        self._streams = boto3.client("dynamodbstreams")
        shard = self._streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def new_records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while True:
            response = self._streams.get_records(ShardIterator=self._iterator, Limit=1000)
            self._iterator = response["NextShardIterator"]
            if not response["Records"]:
                return records
            records.extend(response["Records"])

    def lambda_event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return dynamodb_stream_event(records, stream_arn=self.arn)


def run_catalog(event: dict[str, Any]) -> dict[str, Any]:
    from handlers.main_changes import lambda_handler

    result: dict[str, Any] = lambda_handler(event, LambdaContext(function_name="MainChangesFunction"))
    return result


def bus_events(template: StackTemplate) -> list[dict[str, Any]]:
    """What the bus received from the catalog and scoring (its archive keeps both sources)."""
    from moto.events.models import events_backends

    archive = template.physical["LeadEventArchive"]["Ref"]
    return list(events_backends[ACCOUNT][REGION].archives[archive].events)


class WebhookQueue:
    """The webhook queue (moto): received messages handed to WebhookFunction as Lambda would."""

    def __init__(self, template: StackTemplate) -> None:
        self.url = template.physical["WebhookQueue"]["Ref"]
        self.arn = template.physical["WebhookQueue"]["Arn"]
        self.dead_letter_url = template.physical["WebhookDeadLetterQueue"]["Ref"]
        self._sqs = boto3.client("sqs")

    def receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            got = self._sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return messages
            messages.extend(got)

    def deliver(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """Invoke the function on these messages; delete those it did not report (as Lambda does)."""
        from handlers.webhooks import lambda_handler

        records = [sqs_record(message, queue_arn=self.arn, region=REGION) for message in messages]
        result: dict[str, Any] = lambda_handler(
            {"Records": records}, LambdaContext(function_name="WebhookFunction")
        )
        failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return result

    def pump(self) -> list[dict[str, Any]]:
        """Receive and deliver until the queue shows nothing; the messages left for a retry."""
        left: list[dict[str, Any]] = []
        while messages := self.receive():
            result = self.deliver(messages)
            failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
            left.extend(message for message in messages if message["MessageId"] in failed)
        return left

    def dead_letters(self) -> list[dict[str, Any]]:
        got = self._sqs.receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in got.get("Messages", [])]


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers `statuses` in turn (then 200), keeps what it got."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


@contextmanager
def receiver(*statuses: int) -> Iterator[Receiver]:
    state = Receiver(list(statuses))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.received.append(({name.lower(): value for name, value in self.headers.items()}, body))
            status = state.answer()
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

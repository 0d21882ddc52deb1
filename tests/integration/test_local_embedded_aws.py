"""The embedded AWS serves one call into moto at a time: moto is not thread-safe, and the local stack
calls it from many threads (API requests, stream and queue pollers, schedules) at once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from leadstream_local.embedded_aws import EmbeddedAws
from leadstream_local.stack import LocalStack

pytestmark = pytest.mark.e2e

WRITERS = 6
TRANSACTIONS_PER_WRITER = 15
PREFILLED_ITEMS = 200  # a bigger table makes each transaction's copy of it longer, the race likelier

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    CodeUri: embedded_aws_code/
Resources:
  ReaderFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: embedded_aws_reader.handler
      Environment: {Variables: {TABLE: !Ref Things}}
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Things.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 5
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
"""

# The stream's function reads the table back for every batch, as the stack's consumers do.
READER = """
import os
import boto3

def handler(event, context):
    client = boto3.client("dynamodb")
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]
        client.query(
            TableName=os.environ["TABLE"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": key},
        )
"""

# No retries: a call that moto fails must show, not be hidden by a second attempt.
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=WRITERS)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    (tmp_path / "embedded_aws_code").mkdir()
    (tmp_path / "embedded_aws_code" / "embedded_aws_reader.py").write_text(READER)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    with LocalStack(template_path=tmp_path / "template.yaml", seed=False) as running:
        yield running


def _client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, config=NO_RETRIES)  # type: ignore[call-overload]


def _in_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    failures: list[BaseException] = []

    def run(number: int) -> None:
        try:
            work(number)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def _transact_and_query(client: Any, writer: int, number: int) -> None:
    item = {"pk": {"S": f"writer-{writer}"}, "sk": {"S": str(number)}}
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "Things", "Item": item}},
            {
                "Update": {
                    "TableName": "Things",
                    "Key": {"pk": {"S": "counters"}, "sk": {"S": f"writer-{writer}"}},
                    "UpdateExpression": "ADD done :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    client.query(
        TableName="Things",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"writer-{writer}"}},
    )


def test_concurrent_transactions_and_queries_all_succeed(stack: LocalStack) -> None:
    setup = _client("dynamodb", stack.aws_url)
    for number in range(PREFILLED_ITEMS):
        setup.put_item(TableName="Things", Item={"pk": {"S": f"old-{number % 20}"}, "sk": {"S": f"{number}"}})

    def write(writer: int) -> None:
        client = _client("dynamodb", stack.aws_url)
        for number in range(TRANSACTIONS_PER_WRITER):
            _transact_and_query(client, writer, number)

    assert _in_threads(WRITERS, write) == []
    assert stack.wait_idle()
    counters = setup.query(
        TableName="Things",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "counters"}},
    )["Items"]
    assert sorted(int(item["done"]["N"]) for item in counters) == [TRANSACTIONS_PER_WRITER] * WRITERS
    written = setup.scan(TableName="Things", Select="COUNT")["Count"]
    assert written == PREFILLED_ITEMS + WRITERS * TRANSACTIONS_PER_WRITER + WRITERS


def test_a_long_poll_lets_other_calls_into_moto_while_it_waits(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs.models import Queue

    sqs = _client("sqs", stack.aws_url)
    queue_url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    waiting = threading.Event()
    wait_for_messages = Queue.wait_for_messages

    def signalling_wait(queue: Any, timeout: int) -> None:
        waiting.set()
        wait_for_messages(queue, timeout)

    monkeypatch.setattr(Queue, "wait_for_messages", signalling_wait)
    received: list[dict[str, Any]] = []
    receiver = threading.Thread(
        target=lambda: received.extend(
            _client("sqs", stack.aws_url)
            .receive_message(QueueUrl=queue_url, WaitTimeSeconds=10)
            .get("Messages", [])
        )
    )
    receiver.start()
    assert waiting.wait(30)
    # Were moto's lock held through the wait, this send would only get in once the poll ended empty.
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello")
    receiver.join()
    assert [message["Body"] for message in received] == ["hello"]


def test_a_taken_port_is_an_error_that_names_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot use 127.0.0.1:{port} for the embedded AWS"):
            EmbeddedAws(port=port)

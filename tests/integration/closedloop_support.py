"""The main table's stream on moto, as MainChangesFunction receives it: read from moto's DynamoDB
Streams, shaped as Lambda delivers it, filtered by the function's own FilterCriteria from template.yaml,
and handed to the real handler. `drain(redeliver=True)` delivers every batch twice, as a retried batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from scoring_support import LambdaContext

from leadstream_local.filters import compile_filters, passes
from leadstream_local.inprocess import Call, Reply
from leadstream_local.lambda_events import stream_record

MAX_ROUNDS = 12


class MainStream:
    def __init__(self, template: Any) -> None:
        self.arn = str(template.physical["MainTable"]["StreamArn"])
        self.client = boto3.client("dynamodbstreams")
        event = template.resources["MainChangesFunction"]["Properties"]["Events"]["MainTableChanges"]
        self.filters = compile_filters(event["Properties"].get("FilterCriteria"))
        self.last: dict[str, str] = {}
        self.delivered: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        """The records written since the last read that the function's filter lets through."""
        found = []
        shards = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
            if shard_id in self.last:
                position = {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": self.last[shard_id],
                }
            iterator = self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard_id, **position)[
                "ShardIterator"
            ]
            while iterator:
                response = self.client.get_records(ShardIterator=iterator, Limit=1000)
                records = response.get("Records", [])
                if not records:
                    break
                for record in records:
                    self.last[shard_id] = record["dynamodb"]["SequenceNumber"]
                    shaped = stream_record(record, stream_arn=self.arn)
                    if passes(self.filters, shaped):
                        found.append(shaped)
                iterator = response.get("NextShardIterator")
        return found

    def deliver(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        from handlers.main_changes import lambda_handler

        self.delivered += records
        response: dict[str, Any] = lambda_handler({"Records": records}, LambdaContext())
        return response

    def drain(self, *, redeliver: bool = True) -> int:
        """Deliver until the loop's own writes stop making records; each batch twice with `redeliver`.
        The number of records delivered (once each)."""
        total = 0
        for _ in range(MAX_ROUNDS):
            records = self.read()
            if not records:
                return total
            total += len(records)
            assert self.deliver(records) == {"batchItemFailures": []}
            if redeliver:
                assert self.deliver(records) == {"batchItemFailures": []}
        raise AssertionError("the stream never went quiet: the loop keeps writing")


@dataclass
class Client:
    """The CRM and marketing APIs as one signed-in user (in-process, over the template's routes)."""

    call_api: Call
    token: str

    def request(
        self, method: str, path: str, body: Any = b"", *, query: str = "", if_match: str | None = None
    ) -> Reply:
        headers = [("if-match", if_match)] if if_match is not None else []
        return self.call_api(method, path, body=body, query=query, headers=headers, token=self.token)

    def get(self, path: str, *, query: str = "") -> Reply:
        return self.request("GET", path, query=query)

    def patch(self, path: str, body: Any, *, if_match: str | None) -> Reply:
        return self.request("PATCH", path, body, if_match=if_match)

    def created(self, path: str, body: Any) -> dict[str, Any]:
        reply = self.request("POST", path, body)
        assert reply.status == 201, reply.body
        document: dict[str, Any] = reply.json()
        return document

    def ok(self, reply: Reply) -> Any:
        assert reply.status == 200, reply.body
        return reply.json()

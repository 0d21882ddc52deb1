"""moto shares stream records between a table and its transaction backup: a failed transaction still
leaves no stream record behind, and a successful one adds exactly its own; a stream reader goes on
reading after a failed transaction."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from leadstream.settings import get_settings
from leadstream_local.template import ACCOUNT_ID, REGION


def _records() -> list[Any]:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(get_settings().main_table)
    assert table.stream_shard is not None
    return list(table.stream_shard.items)


def _put(pk: str, condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "Item": {"pk": {"S": pk}, "sk": {"S": "X"}},
    }
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def test_transactions_keep_stream_records_exact(aws: Any) -> None:
    client = boto3.client("dynamodb")
    client.transact_write_items(TransactItems=[_put("A"), _put("B")])
    before = _records()
    assert [record.record["eventName"] for record in before] == ["INSERT", "INSERT"]

    with pytest.raises(client.exceptions.TransactionCanceledException):
        # C is written first, then the condition on A fails: the whole transaction rolls back.
        client.transact_write_items(TransactItems=[_put("C"), _put("A", "attribute_not_exists(pk)")])
    assert _records() == before  # the rolled-back write left no record

    client.transact_write_items(TransactItems=[_put("D")])
    after = _records()
    assert after[:2] == before  # the same record objects, shared rather than copied
    assert [record.record["eventName"] for record in after[2:]] == ["INSERT"]


def test_a_stream_reader_goes_on_after_a_failed_transaction(aws: Any) -> None:
    client, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    arn = client.describe_table(TableName=get_settings().main_table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")
    reader = iterator["ShardIterator"]  # as a stream poller holds one, from before the transaction

    client.transact_write_items(TransactItems=[_put("A")])
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=[_put("C"), _put("A", "attribute_not_exists(pk)")])
    client.transact_write_items(TransactItems=[_put("D")])

    records = streams.get_records(ShardIterator=reader)["Records"]
    assert [record["dynamodb"]["Keys"]["pk"]["S"] for record in records] == ["A", "D"]

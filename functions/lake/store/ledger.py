"""The lake's items in the main table: marketing spend per month and channel, and report runs (which
Athena query answers a report's parameters, reused while fresh). docs/data-model.md lists both."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.store.dynamo import deserialize, get_item, serialize

MAX_SPEND_ROWS = 5000


def put_spend(
    table: str, month: str, channel: str, amount: Decimal, currency: str, *, at: str, by: str
) -> dict[str, Any]:
    """Set (replace) one month's spend on a channel: a PUT, so repeating it changes nothing."""
    item = {
        **keys.spend_key(month, channel),
        **keys.spend_list_index(month, channel),
        "month": month,
        "channel": channel,
        "amount": amount,
        "currency": currency,
        "updatedAt": at,
        "updatedBy": by,
    }
    dynamodb().put_item(TableName=table, Item=serialize(item))
    return item


def get_spend(table: str, month: str, channel: str) -> dict[str, Any] | None:
    return get_item(table, keys.spend_key(month, channel))


def spends(table: str, first_month: str, last_month: str) -> list[dict[str, Any]]:
    """Every spend of the months from `first_month` to `last_month`, by month and channel."""
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :p AND gsi1sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": serialize(
            {":p": keys.SPEND_LIST, ":a": first_month, ":b": f"{last_month}#~"}
        ),
    }
    while len(found) < MAX_SPEND_ROWS:
        answer = dynamodb().query(**request)
        found.extend(deserialize(item) for item in answer.get("Items", []))
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return found


def get_run(table: str, run_id: str) -> dict[str, Any] | None:
    item = get_item(table, keys.report_run_key(run_id), consistent=True)
    if item and isinstance(item.get("params"), str):
        item["params"] = json.loads(item["params"])
    return item


def put_run(
    table: str,
    run_id: str,
    report: str,
    params: dict[str, Any],
    execution_id: str,
    *,
    started: float,
    ttl: int,
) -> None:
    item = {
        **keys.report_run_key(run_id),
        "report": report,
        "params": json.dumps(params, sort_keys=True),
        "executionId": execution_id,
        "startedAt": Decimal(str(round(started, 3))),
        "ttl": ttl,
    }
    dynamodb().put_item(TableName=table, Item=serialize(item))

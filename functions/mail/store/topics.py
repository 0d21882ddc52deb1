"""Subscription topics in the main table: `TOPIC#<topicId>` / `TOPIC`, listed on GSI1 `TOPICS` (by id)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize
from mail.topic_models import Topic


def get_topic(topic_id: str) -> Topic | None:
    item = get_item(get_settings().main_table, keys.topic_key(topic_id), consistent=True)
    return Topic.model_validate(item) if item else None


def all_topics() -> list[Topic]:
    """Every topic, archived ones included, by id (one Query of GSI1 `TOPICS`, page after page)."""
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :list",
        "ExpressionAttributeValues": serialize({":list": keys.TOPIC_LIST}),
    }
    topics: list[Topic] = []
    while True:
        response = dynamodb().query(**request)
        topics.extend(Topic.model_validate(deserialize(item)) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return topics
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def save(topic: Topic) -> bool:
    """Store `topic` at its version: version 1 only if it does not exist, version n only if the stored one
    is n-1 (False: it exists, or someone saved meanwhile)."""
    item = {
        **keys.topic_key(topic.topic_id),
        **keys.topic_list_index(topic.topic_id),
        **topic.model_dump(by_alias=True, mode="json", exclude_none=True),
    }
    condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    if topic.version > 1:
        condition = {
            "ConditionExpression": "version = :previous",
            "ExpressionAttributeValues": serialize({":previous": topic.version - 1}),
        }
    try:
        dynamodb().put_item(TableName=get_settings().main_table, Item=serialize(item), **condition)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True

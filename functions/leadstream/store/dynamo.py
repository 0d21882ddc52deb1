"""Low-level DynamoDB helpers shared by every store: (de)serialization and batched reads and writes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, Rounded
from typing import TYPE_CHECKING, Any

from leadstream.aws import dynamodb
from leadstream.caches import container_cache
from leadstream.errors import ServiceUnavailable
from leadstream.numbers import as_decimal, to_dynamo

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
MAX_UNPROCESSED_ROUNDS = 8


class StorageUnavailable(ServiceUnavailable):
    """DynamoDB kept throttling a batch after every retry; the caller's retry path takes over."""


@container_cache
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@container_cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def _dynamo_safe(value: Any, *, trim: bool = False) -> Any:
    """DynamoDB numbers are Decimals: floats are converted through their shortest repr. With `trim`, every
    number is written as leadstream.numbers.to_dynamo does (without the trailing zeros of a number written
    with more than 38 digits, which the serializer refuses although DynamoDB holds it)."""
    if isinstance(value, float):
        return as_decimal(value)
    if trim and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return to_dynamo(value)
    if isinstance(value, Mapping):
        return {key: _dynamo_safe(inner, trim=trim) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_safe(inner, trim=trim) for inner in value]
    return value


def _attribute_value(value: Any) -> Mapping[str, Any]:
    # Strings and integers are most of what we store (an event item holds nothing else): skip the general
    # serializer's type dispatch for them, which costs more than the rest of ingestion together.
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    try:
        return _serializer().serialize(_dynamo_safe(value))
    except Rounded:  # a number written with over 38 digits (10**40): rare, so only then is every one trimmed
        return _serializer().serialize(_dynamo_safe(value, trim=True))


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _attribute_value(value) for key, value in item.items() if value is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    deserializer = _deserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def _chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _backoff(round_number: int) -> None:
    if round_number < MAX_UNPROCESSED_ROUNDS - 1:  # no point waiting after the last try
        time.sleep(min(0.05 * 2**round_number, 1.0))


def batch_put(table: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Put every item, 25 per call, retrying what DynamoDB leaves unprocessed."""
    client = dynamodb()
    for chunk in _chunks(items, BATCH_WRITE_LIMIT):
        requests: list[Any] = [{"PutRequest": {"Item": serialize(item)}} for item in chunk]
        for round_number in range(MAX_UNPROCESSED_ROUNDS):
            response = client.batch_write_item(RequestItems={table: requests})
            requests = list(response.get("UnprocessedItems", {}).get(table, []))
            if not requests:
                break
            _backoff(round_number)
        else:
            raise StorageUnavailable(f"{len(requests)} items stayed unprocessed in {table}")


def batch_get(
    table: str, keys: Iterable[Mapping[str, str]], *, consistent: bool = True
) -> list[dict[str, Any]]:
    """Get items by key, 100 per call, retrying unprocessed keys. Missing items are simply absent."""
    client = dynamodb()
    unique = list({(key["pk"], key["sk"]): key for key in keys}.values())
    found: list[dict[str, Any]] = []
    for chunk in _chunks(unique, BATCH_GET_LIMIT):
        request: Any = {table: {"Keys": [serialize(key) for key in chunk], "ConsistentRead": consistent}}
        for round_number in range(MAX_UNPROCESSED_ROUNDS):
            response = client.batch_get_item(RequestItems=request)
            found.extend(deserialize(item) for item in response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            _backoff(round_number)
        else:
            raise StorageUnavailable(f"keys stayed unprocessed in {table}")
    return found


def get_item(table: str, key: Mapping[str, str], *, consistent: bool = False) -> dict[str, Any] | None:
    response = dynamodb().get_item(TableName=table, Key=serialize(key), ConsistentRead=consistent)
    item = response.get("Item")
    return deserialize(item) if item else None


def query_index_first(table: str, index: str, partition: Mapping[str, str]) -> dict[str, Any] | None:
    """The first item of a GSI partition (`partition` holds one attribute name and its value)."""
    ((attribute, value),) = partition.items()
    response = dynamodb().query(
        TableName=table,
        IndexName=index,
        KeyConditionExpression="#k = :v",
        ExpressionAttributeNames={"#k": attribute},
        ExpressionAttributeValues={":v": {"S": value}},
        Limit=1,
    )
    items = response.get("Items", [])
    return deserialize(items[0]) if items else None

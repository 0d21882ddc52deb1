"""One page over several partitions read together: sharded index lists and multi-identity timelines.

Each partition is queried in the wanted order (at most `limit` items each), the results are merged, and
the cursor remembers, per partition, the key of the last item actually returned (or that the partition
is exhausted). Every item a partition holds is returned exactly once across pages, in order.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leadstream.aws import dynamodb
from leadstream.pagination import decode_cursor, encode_cursor

EXHAUSTED: dict[str, Any] = {}


@dataclass(frozen=True)
class Partition:
    name: str  # stable name of the partition in the cursor
    table: str
    index: str | None  # None: the table itself
    key_attribute: str  # partition key attribute (of the index, or of the table)
    key_value: str
    sort_attribute: str  # what the merge orders by
    key_attributes: tuple[str, ...]  # every key attribute an item of this partition carries


def merged_page(
    partitions: Sequence[Partition], *, limit: int, cursor: str | None, descending: bool = True
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` raw (serialized) items from all partitions, in sort order, and the next cursor."""
    state = decode_cursor(cursor) or {}
    fetched: dict[str, tuple[list[dict[str, Any]], bool]] = {}
    for partition in partitions:
        start = state.get(partition.name)
        if start == EXHAUSTED:
            continue
        fetched[partition.name] = _query(partition, start, limit, descending)
    by_name = {partition.name: partition for partition in partitions}
    heads = [
        (_order(items[0][by_name[name].sort_attribute]["S"], descending), name, 0)
        for name, (items, _) in fetched.items()
        if items
    ]
    heapq.heapify(heads)
    page: list[dict[str, Any]] = []
    consumed: dict[str, int] = {}
    while heads and len(page) < limit:
        _, name, position = heapq.heappop(heads)
        items, _more = fetched[name]
        page.append(items[position])
        consumed[name] = position + 1
        if position + 1 < len(items):
            following = items[position + 1][by_name[name].sort_attribute]["S"]
            heapq.heappush(heads, (_order(following, descending), name, position + 1))
    next_state = dict(state)
    for name, (items, more) in fetched.items():
        used = consumed.get(name, 0)
        if used == len(items) and not more:
            next_state[name] = EXHAUSTED
        elif used:
            last = items[used - 1]
            next_state[name] = {attr: last[attr] for attr in by_name[name].key_attributes if attr in last}
    done = all(next_state.get(partition.name) == EXHAUSTED for partition in partitions)
    return page, None if done else encode_cursor(next_state)


def _query(
    partition: Partition, start: dict[str, Any] | None, limit: int, descending: bool
) -> tuple[list[dict[str, Any]], bool]:
    request: dict[str, Any] = {
        "TableName": partition.table,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": partition.key_attribute},
        "ExpressionAttributeValues": {":v": {"S": partition.key_value}},
        "ScanIndexForward": not descending,
        "Limit": limit,
    }
    if partition.index:
        request["IndexName"] = partition.index
    if start:
        request["ExclusiveStartKey"] = start
    response = dynamodb().query(**request)
    return list(response.get("Items", [])), "LastEvaluatedKey" in response


class _Descending(str):
    """A string that sorts in reverse, so that one min-heap serves both directions."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return str.__gt__(self, other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        return str.__lt__(self, other)  # type: ignore[operator]


def _order(value: str, descending: bool) -> str:
    return _Descending(value) if descending else value

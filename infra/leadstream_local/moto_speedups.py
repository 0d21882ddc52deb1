"""Keep moto's cost flat as a stack runs: a transaction backs up the items it touches, not its tables.

moto backs every TransactWriteItems with a deep copy of each table it touches (once per item of the
transaction), to roll back on failure. That copy grows with the table, and a table with a stream also holds
every stream record it ever produced (moto does not expire them after 24 hours as DynamoDB does), so each
transaction got slower the longer a local stack (or a test) ran: an import of a few thousand rows, one
transaction per person, spent seconds per transaction. Here a transaction instead copies the items it
names (at most 100) before it runs; a rollback puts those back and drops the stream records the
rolled-back writes added. The table object and its stream shard stay the same, so every shard iterator
handed out before (the local stack's stream pollers hold one) goes on reading.

Stream records are still shared, not copied, when something else deep-copies a table: they never change
once written.
"""

from __future__ import annotations

import copy
from typing import Any

_installed = False


def install() -> None:
    global _installed  # noqa: PLW0603 - a process-wide patch, applied once
    if _installed:
        return
    from moto.dynamodb.models.table import StreamShard

    def shard_copy(self: Any, memo: dict[int, Any]) -> Any:
        result = self.__class__.__new__(self.__class__)
        memo[id(self)] = result
        for name, value in vars(self).items():
            # The records themselves are immutable: share them; the list is copied so a rollback holds.
            setattr(result, name, list(value) if name == "items" else copy.deepcopy(value, memo))
        return result

    StreamShard.__deepcopy__ = shard_copy  # type: ignore[attr-defined]
    _keep_stream_shards_on_rollback()
    _installed = True


class _TablesAreNotCopied:
    """What moto's dynamodb models module sees as `copy`: tables come back as they are (the transaction's
    own backup of the items it touches replaces the table copy); anything else is deep-copied."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    copy = staticmethod(copy.copy)


def _keep_stream_shards_on_rollback() -> None:
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    transact = DynamoDBBackend.transact_write_items
    dynamodb_models.copy = _TablesAreNotCopied  # type: ignore[attr-defined,assignment]

    def touched(self: Any, transact_items: Any) -> list[tuple[Any, Any, Any, Any]]:
        """(table, hash value, range value, a copy of the item or None) of each item the transaction names."""
        backups = []
        for entry in transact_items:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
                continue  # moto refuses it before writing anything
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            current = table.get_item(hash_value, range_value)
            backups.append((table, hash_value, range_value, copy.deepcopy(current)))
        return backups

    def transact_write_items(self: Any, transact_items: Any) -> None:
        backups = touched(self, transact_items)
        shards = {
            id(table): (table.stream_shard, len(table.stream_shard.items))
            for table in self.tables.values()
            if table.stream_shard is not None
        }
        try:
            transact(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(backups):
                if range_value is None:
                    if item is None:
                        table.items.pop(hash_value, None)
                    else:
                        table.items[hash_value] = item
                elif item is None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = item
            for shard, length in shards.values():
                del shard.items[length:]
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

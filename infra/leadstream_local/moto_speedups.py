"""Keep moto's cost flat as a stack runs: stream records are shared, not copied, by transactions.

moto backs every TransactWriteItems with a deep copy of each table it touches, to roll back on failure,
and a table with a stream holds every stream record it ever produced (moto does not expire them after 24
hours as DynamoDB does). So each transaction got slower the longer a local stack (or a test) ran. A
stream record never changes once written, so the copy can share the records and copy only the list: a
rolled-back transaction still restores the list as it was, and nothing else changes.

A rollback also keeps the table's stream shard itself: moto puts the table copy back in place, whose
shard is a copy too, and every shard iterator handed out before (the local stack's stream pollers hold
one) would go on reading the discarded shard and never see another record. The shard stays, with the
records of the rolled-back writes dropped.
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


def _keep_stream_shards_on_rollback() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: Any) -> None:
        shards = {
            name: (table.stream_shard, len(table.stream_shard.items))
            for name, table in self.tables.items()
            if table.stream_shard is not None
        }
        try:
            transact(self, transact_items)
        except Exception:
            for name, (shard, length) in shards.items():
                restored = self.tables.get(name)
                if restored is not None and restored.stream_shard is not shard:
                    del shard.items[length:]
                    shard.table, restored.stream_shard = restored, shard
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

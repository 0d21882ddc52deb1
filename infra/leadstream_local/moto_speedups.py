"""Keep moto's cost flat as a stack runs: stream records are shared, not copied, by transactions.

moto backs every TransactWriteItems with a deep copy of each table it touches, to roll back on failure,
and a table with a stream holds every stream record it ever produced (moto does not expire them after 24
hours as DynamoDB does). So each transaction got slower the longer a local stack (or a test) ran. A
stream record never changes once written, so the copy can share the records and copy only the list: a
rolled-back transaction still restores the list as it was, and nothing else changes.
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
    _installed = True

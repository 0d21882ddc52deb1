"""A profile's events, newest first: the events table's `ByIdentity` index, one partition per identity.

Tracking stores each event with `identity` = `user:<userId>` when it has one, else `anon:<anonymousId>`
(leadstream.events.TrackedEvent.to_item). A profile owns those identities, so its timeline is the merge of
their partitions; the index keeps keys only and the page's events are then read whole (one BatchGetItem).
docs/data-model.md explains why this index rather than per-profile copies.
"""

from __future__ import annotations

from collections.abc import Sequence

from leadstream import keys
from leadstream.events import TrackedEvent
from leadstream.profiles import IdentityRef
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get
from leadstream.store.merged import Partition, merged_page

# Identities of one person whose events are merged; more would make one page cost too many queries.
MAX_TIMELINE_IDENTITIES = 50
_INDEX_KEYS = ("pk", "sk", "identity", "timestamp")


def profile_events(
    identities: Sequence[IdentityRef], *, limit: int, cursor: str | None = None
) -> tuple[list[TrackedEvent], str | None]:
    """One page of the events of a person known by `identities`, newest first, and the next cursor."""
    table = get_settings().events_table
    tracked = sorted(str(ref) for ref in identities if ref.kind in ("user", "anon"))
    partitions = [
        Partition(
            name=identity,
            table=table,
            index=keys.EVENTS_BY_IDENTITY_INDEX,
            key_attribute="identity",
            key_value=identity,
            sort_attribute="timestamp",
            key_attributes=_INDEX_KEYS,
        )
        for identity in tracked[:MAX_TIMELINE_IDENTITIES]
    ]
    if not partitions:
        return [], None
    rows, next_cursor = merged_page(partitions, limit=limit, cursor=cursor)
    keyed = [{"pk": row["pk"]["S"], "sk": row["sk"]["S"]} for row in rows]
    found = {(item["pk"], item["sk"]): item for item in batch_get(table, keyed, consistent=False)}
    # An event can expire (TTL) between the two reads: it is simply left out.
    events = [
        TrackedEvent.from_item(found[(key["pk"], key["sk"])])
        for key in keyed
        if (key["pk"], key["sk"]) in found
    ]
    return events, next_cursor

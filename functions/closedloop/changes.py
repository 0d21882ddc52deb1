"""The closed loop's one entry point: a batch of main-table stream records in, their effects out.

`apply(records)` takes the records as Lambda delivers them (NEW_AND_OLD_IMAGES) and hands each change to
its part of the loop, in stream order:

- a deal or an order: the person's stage, their open deals, revenue on the person and the account
  (closedloop.outcomes);
- a contact: its fields onto its marketing profile, its email as the profile's identity, the contact's
  account as one the person counts in (closedloop.sync, closedloop.accounts);
- a profile: its fields back onto its contact, its Segment group onto an account (same modules);
- an account: the group ids (web domain, customFields.groupId) that name it (closedloop.accounts).

Every part is idempotent (applied-change markers written with the effects, set semantics, writes that
compare values), so a redelivered record changes nothing twice. A failing record stops the batch and is
returned: the stream retries from it (docs/closed-loop.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from closedloop import accounts, outcomes, sync
from closedloop.store import loop as store
from leadstream.store.dynamo import deserialize

logger = logging.getLogger(__name__)

# Sort keys of the items the loop reads from the stream (the event source's filter names the same).
KINDS = {"DEAL": "deal", "ORDER": "order", "CONTACT": "contact", "ACCOUNT": "account", "PROFILE": "profile"}
# Kinds whose every effect is committed with the change's marker: a marked change is skipped whole. (A
# contact change also sets the contact's profileId after its transaction, so it always runs; its own
# transaction finds the marker.)
MARKED = frozenset({"deal", "order"})


@dataclass(frozen=True)
class Change:
    """One item write: its key, the item before (None: new) and after (None: deleted)."""

    sequence: str
    kind: str
    pk: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def version(self) -> int:
        """The version the write made (a delete makes one more than the last, as CRM history says)."""
        if self.new is not None:
            return int(self.new.get("version", 0))
        return int((self.old or {}).get("version", 0)) + 1

    @property
    def change_id(self) -> str:
        """Stable across redeliveries of the same record: the item's key and the version it wrote."""
        return f"{self.pk}#{self.version}"


def parse(record: Mapping[str, Any]) -> Change | None:
    """The change a stream record carries; None for items the loop does not follow."""
    data = record.get("dynamodb") or {}
    key = data.get("Keys") or {}
    sk = (key.get("sk") or {}).get("S")
    kind = KINDS.get(str(sk))
    if kind is None:
        return None
    old, new = data.get("OldImage"), data.get("NewImage")
    return Change(
        sequence=str(data.get("SequenceNumber", "")),
        kind=kind,
        pk=str((key.get("pk") or {}).get("S", "")),
        old=deserialize(old) if old else None,
        new=deserialize(new) if new else None,
    )


def apply(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Apply a batch of stream records in order; the sequence numbers of the records to retry (the first
    that failed: the stream resumes from it, the records before it are done)."""
    parsed = [change for change in map(parse, records) if change is not None]
    # A redelivered batch: the changes applied before are known by their markers (one read per batch).
    marked = [change.change_id for change in parsed if change.kind in MARKED]
    done = store.applied(marked) if marked else set()
    for change in parsed:
        if change.change_id in done:
            continue
        try:
            handle(change)
        except Exception:
            logger.exception("closed loop: change %s failed; the stream retries from it", change.change_id)
            return [change.sequence]
    return []


def handle(change: Change) -> None:
    if change.kind == "deal":
        outcomes.on_deal(change.change_id, change.old, change.new)
    elif change.kind == "order":
        outcomes.on_order(change.change_id, change.old, change.new)
    elif change.kind == "contact":
        sync.on_contact(change.change_id, change.old, change.new)
        accounts.on_contact(change.old, change.new)
    elif change.kind == "profile":
        sync.on_profile(change.old, change.new)
        accounts.on_profile(change.old, change.new)
    elif change.kind == "account":
        accounts.on_account(change.old, change.new)

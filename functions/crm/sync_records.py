"""What the closed loop (functions/closedloop) reads and writes of CRM records: contacts it keeps in step
with their marketing profiles, and the accounts and contacts it reads to place people and revenue.

The closed loop writes as its own actor, `MARKETING_SYNC`: a contact change whose `updatedBy` is that
actor came from the marketing side, and the loop does not send it back (no echo; docs/closed-loop.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from crm.records import SystemActor
from crm.resources.accounts import ACCOUNT, Account
from crm.resources.contacts import CONTACT, Contact
from crm.store import records as store

# The actor of every contact write the closed loop makes (a contact's `updatedBy`).
MARKETING_SYNC = SystemActor(user_id="marketing-sync", username="marketing sync")


def get_contact(contact_id: str) -> Contact | None:
    """A contact as it is now (consistent read)."""
    found: Contact | None = store.get_record(CONTACT, contact_id)
    return found


def get_contacts(contact_ids: Sequence[str]) -> dict[str, Contact]:
    """Contacts by id, one BatchGetItem per 100 (missing ones are absent)."""
    return store.get_records(CONTACT, list(dict.fromkeys(contact_ids))) if contact_ids else {}


def get_account(account_id: str) -> Account | None:
    found: Account | None = store.get_record(ACCOUNT, account_id)
    return found


def save_contact(before: Contact, after: Contact) -> Contact:
    """Store `after` as the next version of `before` as the marketing sync (PreconditionFailed if the
    contact changed meanwhile, NotFound if it was deleted; a change of nothing writes nothing)."""
    stored, _ = store.update_record(CONTACT, before, after, MARKETING_SYNC, action="synced")
    return stored

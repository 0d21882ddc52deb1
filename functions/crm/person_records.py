"""A person's CRM records, for their access document (customerdata.access): contacts, leads and deals, each
with every history entry.

Found without a scan: the contacts holding one of the person's addresses (the contacts' unique email
claims, one GetItem each), the leads their handoffs created and the leads those contacts were converted
from, and the deals that name one of those contacts as main contact (the contacts' accounts' deal lists,
one Query per page) or were converted from one of those leads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm.lead_record import LEAD
from crm.records import RecordType
from crm.resources.contacts import CONTACT
from crm.resources.deals import DEAL
from crm.store import records as store
from leadstream import keys

PAGE = 200


def records_of_person(emails: Iterable[str], lead_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """{"contacts": [...], "leads": [...], "deals": [...]}: each `{"record": ..., "history": [...]}`, the
    history newest first."""
    contact_ids = {
        found for email in dict.fromkeys(emails) if (found := store.find_unique(CONTACT, "email", email))
    }
    contacts = store.get_records(CONTACT, sorted(contact_ids)) if contact_ids else {}
    leads_wanted = [*lead_ids, *(contact.lead_id for contact in contacts.values() if contact.lead_id)]
    leads = store.get_records(LEAD, list(dict.fromkeys(leads_wanted))) if leads_wanted else {}
    deals: dict[str, Any] = {}
    for account_id in sorted({contact.account_id for contact in contacts.values() if contact.account_id}):
        for deal in _account_deals(account_id):
            if deal.contact_id in contacts or (deal.lead_id and deal.lead_id in leads):
                deals[deal.deal_id] = deal
    return {
        "contacts": [_with_history(CONTACT, record) for record in contacts.values()],
        "leads": [_with_history(LEAD, record) for record in leads.values()],
        "deals": [_with_history(DEAL, record) for record in deals.values()],
    }


def _account_deals(account_id: str) -> Iterable[Any]:
    index, partition = keys.record_list_partition(DEAL.kind, account_id=account_id)
    cursor = None
    while True:
        page = store.list_records(DEAL, store.ListQuery(index, partition, limit=PAGE, cursor=cursor))
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _with_history(kind: RecordType[Any], record: Any) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = store.history(kind, kind.record_id(record), limit=PAGE, cursor=cursor)
        entries += [entry.model_dump(mode="json", by_alias=True, exclude_none=True) for entry in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return {"record": kind.document(record), "history": entries}

"""A lead as a CRM record: how its history, list entries and visibility work (crm.records), and the shape
of its item with its index entries (`lead_item`), which every writer of a lead uses.

Three writers store leads with their history in one transaction: scoring creating a handed-over lead
(crm.lifecycle.create_lead_once), crm.lifecycle accepting, rejecting or disqualifying one with its
profile, and the CRM's own routes (functions/crm/resources/leads.py).
"""

from __future__ import annotations

from typing import Any

from crm.leads import Lead, iso
from crm.records import RecordType
from leadstream import keys
from leadstream.auth import Principal, Role


def lead_item(lead: Lead) -> dict[str, Any]:
    """The lead's item: its key, the index entries its status allows, and its fields."""
    created = iso(lead.created_at)
    return {
        **keys.lead_key(lead.lead_id),
        **keys.lead_indexes(
            visible_to_sales=lead.visible_to_sales,
            owner_id=lead.owner_id,
            created_at=created,
            lead_id=lead.lead_id,
        ),
        **lead.model_dump(by_alias=True, mode="json", exclude_none=True),
    }


def _visible(lead: Lead, principal: Principal) -> bool:
    return lead.visible_to_sales or principal.has(Role.ADMIN)


LEAD = RecordType(
    kind="lead",
    plural="leads",
    model=Lead,
    id_field="lead_id",
    title_field="email",
    account_field=None,
    item_builder=lead_item,
    visible=_visible,
)

"""A lead as a CRM record: how its history, list entries and visibility work (crm.records).

It lives in the shared package because three writers store leads with their history in one transaction:
scoring creating a handed-over lead, crm.lifecycle accepting, rejecting or disqualifying one with
its profile, and the CRM's own routes (functions/crm/resources/leads.py).
"""

from __future__ import annotations

from crm.leads import Lead
from crm.records import RecordType
from crm.store.leads import lead_item
from leadstream.auth import Principal, Role


def _visible(lead: Lead, principal: Principal) -> bool:
    return lead.visible_to_sales or principal.has(Role.ADMIN)


LEAD = RecordType(
    kind="lead",
    plural="leads",
    model=Lead,
    id_field="lead_id",
    title_field="email",
    account_field=None,
    item_builder=lead_item,  # crm.store.leads owns a lead's item shape and index entries
    visible=_visible,
)

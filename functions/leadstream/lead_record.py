"""A lead as a CRM record: how its history, list entries and visibility work (leadstream.records).

It lives in the shared package because three writers store leads with their history in one transaction:
scoring creating a handed-over lead, leadstream.lifecycle accepting, rejecting or disqualifying one with
its profile, and the CRM's own routes (functions/sales/resources/leads.py).
"""

from __future__ import annotations

from leadstream.auth import Principal, Role
from leadstream.leads import Lead
from leadstream.records import RecordType
from leadstream.store.leads import lead_item


def _visible(lead: Lead, principal: Principal) -> bool:
    return lead.visible_to_sales or principal.has(Role.ADMIN)


LEAD = RecordType(
    kind="lead",
    plural="leads",
    model=Lead,
    id_field="lead_id",
    title_field="email",
    account_field=None,
    item_builder=lead_item,  # leadstream.store.leads owns a lead's item shape and index entries
    visible=_visible,
)

"""Leads in the main table. The only code that writes a lead item, so its index entries stay right."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm.leads import Lead, iso
from crm.records import SYSTEM, Actor
from leadstream import keys
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def lead_item(lead: Lead) -> dict[str, Any]:
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


def create_lead_once(lead: Lead, *, by: Actor = SYSTEM) -> bool:
    """Create the lead with its "created" history entry, unless it exists (True if this call created it).
    Safe to retry."""
    from crm.lead_record import LEAD
    from crm.store.records import history_items
    from leadstream.store.profiles import transact

    put: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": get_settings().main_table,
            "Item": serialize(lead_item(lead)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    return transact([put, *history_items(LEAD, None, lead, by, action="created")])


def get_lead(lead_id: str) -> Lead | None:
    item = get_item(get_settings().main_table, keys.lead_key(lead_id), consistent=True)
    return Lead.model_validate(item) if item else None

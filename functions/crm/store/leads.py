"""Leads in the main table: a new lead with its history items, and reading one. A lead's item shape and
index entries are crm.lead_record.lead_item, so every writer's index entries stay right."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crm.lead_record import lead_item
from crm.leads import Lead
from leadstream import keys
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item, serialize
from leadstream.store.profiles import transact

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def put_new_lead(lead: Lead, *, also: Sequence[TransactWriteItemTypeDef] = ()) -> bool:
    """Store the lead, unless one with its id exists, with `also` (its history items) in one transaction.
    True if this call stored it."""
    put: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": get_settings().main_table,
            "Item": serialize(lead_item(lead)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    return transact([put, *also])


def get_lead(lead_id: str) -> Lead | None:
    item = get_item(get_settings().main_table, keys.lead_key(lead_id), consistent=True)
    return Lead.model_validate(item) if item else None

"""Storage of lifecycle changes: a lead and its profile written together, each on its expected version."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crm.lead_record import lead_item
from crm.leads import Lead
from crm.store.leads import get_lead
from leadstream.profiles import Profile
from leadstream.settings import get_settings
from leadstream.store.dynamo import serialize
from leadstream.store.profiles import conditional_profile_put, live_profile, put_profile, transact

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

__all__ = ["get_lead", "live_profile", "put_lead_and_profile", "put_profile"]


def put_lead_and_profile(
    lead: Lead,
    lead_expected_version: int,
    profile: Profile | None,
    profile_expected_version: int | None,
    *,
    also: Sequence[TransactWriteItemTypeDef] = (),
) -> bool:
    """Store the lead (its index entries follow its status), its profile and `also` (the lead's history
    entry) in one transaction.

    False when either was changed since it was read: the caller reads both again and re-decides.
    """
    items: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": get_settings().main_table,
                "Item": serialize(lead_item(lead)),
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": serialize({":expected": lead_expected_version}),
            }
        }
    ]
    if profile is not None and profile_expected_version is not None:
        items.append(conditional_profile_put(profile, profile_expected_version))
    return transact([*items, *also])

"""Campaigns (`CAMPAIGN#<id>` / `CAMPAIGN`, listed on GSI1 unless deleted) and the conversion goals of
started campaigns (`CONVERSIONGOALS` / `CAMPAIGN#<id>`, expiring by TTL after their window).

Every change is a Put conditioned on the version it was made from (optimistic concurrency): the API, the
timer and the fan-out all change campaigns this way, so two of them can never overwrite each other; the
loser re-reads and decides again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.campaigns import Campaign
from leadstream.profiles import UtcTime, iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize

# A goal stays readable a day past its window (conversions compare times; TTL deletes lazily anyway).
GOAL_GRACE = timedelta(days=1)


def _item(campaign: Campaign) -> dict[str, Any]:
    item = {
        **keys.campaign_key(campaign.campaign_id),
        **campaign.model_dump(by_alias=True, mode="json", exclude_none=True),
    }
    if not campaign.deleted:
        item |= keys.campaign_list_index(iso_utc(campaign.updated_at), campaign.campaign_id)
    return item


def save(campaign: Campaign, *, previous_version: int | None) -> bool:
    """Store `campaign`: new (previous_version None, only if the id is free) or replacing exactly
    `previous_version`. False: someone else changed (or created) it meanwhile."""
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "Item": serialize(_item(campaign)),
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    if previous_version is not None:
        request["ConditionExpression"] = "version = :previous"
        request["ExpressionAttributeValues"] = serialize({":previous": previous_version})
    try:
        dynamodb().put_item(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_campaign(campaign_id: str) -> Campaign | None:
    item = get_item(get_settings().main_table, keys.campaign_key(campaign_id), consistent=True)
    return Campaign.model_validate(item) if item else None


def list_campaigns(
    *, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Campaign], dict[str, Any] | None]:
    """Campaigns that are not deleted, most recently changed first: one Query on GSI1."""
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :list",
        "ExpressionAttributeValues": serialize({":list": keys.CAMPAIGN_LIST}),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    response = dynamodb().query(**request)
    campaigns = [Campaign.model_validate(deserialize(item)) for item in response.get("Items", [])]
    return campaigns, response.get("LastEvaluatedKey")


class GoalEntry(BaseModel):
    """A started campaign's conversion goal, as conversions read it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    campaign_id: str = Field(alias="campaignId")
    activity_key: str = Field(alias="activityKey")
    window_days: int = Field(alias="windowDays")
    started_at: UtcTime = Field(alias="startedAt")

    def window_start(self, at: datetime) -> datetime:
        return at - timedelta(days=self.window_days)


def put_conversion_goal(campaign: Campaign, *, until: datetime) -> None:
    """Publish a started campaign's goal (a repeat overwrites it with the same values). `until` is when
    the last email's window can end: the goal expires by TTL after it."""
    assert campaign.conversion is not None
    assert campaign.started_at is not None
    entry = GoalEntry(
        campaign_id=campaign.campaign_id,
        activity_key=campaign.conversion.activity_key,
        window_days=campaign.conversion.window_days,
        started_at=campaign.started_at,
    )
    item = {
        **keys.conversion_goal_key(campaign.campaign_id),
        **entry.model_dump(by_alias=True, mode="json"),
        "ttl": int((until + GOAL_GRACE).timestamp()),
    }
    dynamodb().put_item(TableName=get_settings().main_table, Item=serialize(item))


def conversion_goals() -> list[GoalEntry]:
    """Every live conversion goal: one Query of one small partition (a goal lives for its window)."""
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": serialize({":pk": keys.CONVERSION_GOALS_PK}),
    }
    goals: list[GoalEntry] = []
    while True:
        response = dynamodb().query(**request)
        goals.extend(GoalEntry.model_validate(deserialize(item)) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return goals
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

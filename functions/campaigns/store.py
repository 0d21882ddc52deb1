"""Campaigns (`CAMPAIGN#<id>` / `CAMPAIGN`, listed on GSI1 unless deleted) and the conversion goals of
started campaigns and live journeys (`CONVERSIONGOALS` / `CAMPAIGN#<id>` | `JOURNEY#<id>`): a campaign's
expires by TTL after its window; a journey's lives while the journey publishes it, and once retired
expires by TTL after the window of the last email it can convert.

Every change is a Put conditioned on the version it was made from (optimistic concurrency): the API, the
timer and the fan-out all change campaigns this way, so two of them can never overwrite each other; the
loser re-reads and decides again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError
from pydantic import AliasChoices, ConfigDict, Field

from campaigns.models import Campaign, ConversionGoal
from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.models import Model
from leadstream.profiles import UtcTime, iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

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


GoalKind = Literal["campaign", "journey"]


class GoalEntry(Model):
    """A published conversion goal, as conversions read it: whose (`kind`, `ownerId`), which activity,
    how many days after an email. Entries written before journeys had goals name only `campaignId`: they
    read as campaign goals."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    kind: GoalKind = "campaign"
    owner_id: str = Field(
        validation_alias=AliasChoices("ownerId", "campaignId", "owner_id"), serialization_alias="ownerId"
    )
    activity_key: str = Field(alias="activityKey")
    window_days: int = Field(alias="windowDays")
    started_at: UtcTime = Field(alias="startedAt")
    # When a journey's goal was retired (published without a goal, or archived): emails sent later
    # convert nothing; those sent before keep converting for their window.
    retired_at: UtcTime | None = Field(default=None, alias="retiredAt")

    def window_start(self, at: datetime) -> datetime:
        return at - timedelta(days=self.window_days)

    def converts(self, sent_at: datetime, at: datetime) -> bool:
        """Whether an email sent at `sent_at` converts when the goal activity is done at `at`."""
        if self.retired_at is not None and sent_at > self.retired_at:
            return False
        return self.window_start(at) <= sent_at <= at

    def item(self, *, ttl: datetime | None) -> dict[str, Any]:
        item = {
            **keys.conversion_goal_key(self.kind, self.owner_id),
            **self.model_dump(by_alias=True, mode="json", exclude_none=True),
        }
        return item | ({"ttl": int(ttl.timestamp())} if ttl is not None else {})


def put_conversion_goal(campaign: Campaign, *, until: datetime) -> None:
    """Publish a started campaign's goal (a repeat overwrites it with the same values). `until` is when
    the last email's window can end: the goal expires by TTL after it."""
    assert campaign.conversion is not None
    assert campaign.started_at is not None
    entry = GoalEntry(
        kind="campaign",
        owner_id=campaign.campaign_id,
        activity_key=campaign.conversion.activity_key,
        window_days=campaign.conversion.window_days,
        started_at=campaign.started_at,
    )
    item = entry.item(ttl=until + GOAL_GRACE)
    dynamodb().put_item(TableName=get_settings().main_table, Item=serialize(item))


def get_conversion_goal(kind: GoalKind, owner_id: str) -> GoalEntry | None:
    item = get_item(get_settings().main_table, keys.conversion_goal_key(kind, owner_id), consistent=True)
    return GoalEntry.model_validate(item) if item else None


def journey_goal_put(journey_id: str, goal: ConversionGoal, *, at: datetime) -> TransactWriteItemTypeDef:
    """The transaction item that publishes a journey's goal (live, no TTL; replaces a retired one)."""
    entry = GoalEntry(
        kind="journey",
        owner_id=journey_id,
        activity_key=goal.activity_key,
        window_days=goal.window_days,
        started_at=at,
    )
    return {"Put": {"TableName": get_settings().main_table, "Item": serialize(entry.item(ttl=None))}}


def goal_retirement(entry: GoalEntry, *, at: datetime) -> TransactWriteItemTypeDef:
    """The transaction item that retires a live goal at `at`: emails sent before keep converting for
    their window, and the entry expires by TTL a day after the last such window ends."""
    ttl = at + timedelta(days=entry.window_days) + GOAL_GRACE
    return {
        "Update": {
            "TableName": get_settings().main_table,
            "Key": serialize(keys.conversion_goal_key(entry.kind, entry.owner_id)),
            "UpdateExpression": "SET retiredAt = :at, #ttl = :ttl",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": serialize({":at": iso_utc(at), ":ttl": int(ttl.timestamp())}),
        }
    }


def conversion_goals() -> list[GoalEntry]:
    """Every published conversion goal: one Query of one small partition (a campaign's goal lives for its
    window, a journey's while it is live and one window after it is retired)."""
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

"""Report counters (`REPORT#<kind>#<ownerId>` / `GROUP#<group>`) and the once-per-message marks on send
records that keep them exact (mail.reports, docs/campaigns.md "Reports").

Counting a metric for a message is one transaction of two updates:
1. the send record: `SET <metric>At = :at` on condition `attribute_not_exists(<metric>At)`;
2. the group's counter: `ADD <metric> 1`.
Both or neither: a second open, a redelivered SES event or stream record finds the mark and counts
nothing. A report is one Query on its partition.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, serialize
from mail.reports import Counters, Metric, ReportGroup, ReportKind, group_of
from mail.sends import SendRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef


def counter_update(group: ReportGroup, metric: Metric) -> TransactWriteItemTypeDef:
    """The transaction item that adds one to `metric` in `group`'s counters."""
    return {
        "Update": {
            "TableName": get_settings().main_table,
            "Key": serialize(keys.report_key(group.kind, group.owner_id, group.group)),
            "UpdateExpression": "ADD #metric :one SET ownerId = :owner, reportGroup = :group",
            "ExpressionAttributeNames": {"#metric": metric.value},
            "ExpressionAttributeValues": serialize(
                {":one": 1, ":owner": group.owner_id, ":group": group.group}
            ),
        }
    }


def count_first(record: SendRecord, metric: Metric, at: datetime) -> bool:
    """Mark `metric` on the send record and count it in the record's report group, unless it was marked
    before. True when this call counted it."""
    mark: UpdateTypeDef = {
        "TableName": get_settings().main_table,
        "Key": serialize(keys.send_key(record.message_id)),
        "UpdateExpression": "SET #at = :at",
        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#at)",
        "ExpressionAttributeNames": {"#at": metric.attribute},
        "ExpressionAttributeValues": serialize({":at": iso_utc(at)}),
    }
    group = group_of(record)
    client = dynamodb()
    if group is None:  # not a campaign or journey email (nothing to count): only the mark
        try:
            client.update_item(**mark)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
    try:
        client.transact_write_items(TransactItems=[{"Update": mark}, counter_update(group, metric)])
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False
        raise
    return True


METRIC_NAMES = frozenset(metric.value for metric in Metric)


def report_for(kind: ReportKind, owner_id: str) -> dict[str, Counters]:
    """Every group's counters of one campaign (by variant) or journey (by step): one Query."""
    table = get_settings().main_table
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": serialize({":pk": keys.report_partition(kind, owner_id)}),
        "ConsistentRead": True,
    }
    groups: dict[str, Counters] = {}
    while True:
        response = dynamodb().query(**request)
        for raw in response.get("Items", []):
            item = deserialize(raw)
            groups[str(item["reportGroup"])] = Counters.model_validate(
                {name: int(value) for name, value in item.items() if name in METRIC_NAMES}
            )
        if "LastEvaluatedKey" not in response:
            return groups
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

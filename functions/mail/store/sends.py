"""Send records (`SEND#<messageId>`) and weekly email counters in the main table.

The sender's exactly-once protocol lives here as conditional writes (docs/email.md):

- `claim`: one transaction that creates the claim (only if no record exists) and counts the email against
  the person's weekly cap (only while under the cap). Both or neither: a redelivered message never counts
  twice, and an email over the cap is never claimed.
- `reclaim`: take over a claim whose sender died before recording the outcome (only the holder of the
  claim token it read can, so two redeliveries cannot both take it over).
- `mark_sent` / `release`: the claim holder records the outcome.
- `confirm_sent`: SES's own "Send" event marks a claim as sent, closing the window in which a sender
  crashed between SES accepting the email and recording it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize
from mail.reports import Metric, group_of
from mail.sends import SendRecord, SendStatus
from mail.store.reports import counter_update

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef, UpdateTypeDef

    from mail.reports import ReportGroup

CONDITION_FAILED = "ConditionalCheckFailedException"
# A counter outlives its week by this much (TTL deletes it lazily, so reads never depend on it).
COUNTER_GRACE = timedelta(days=8)


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # this caller holds the claim and must send
    TAKEN = "taken"  # a record exists already (another delivery claimed or finished it)
    CAPPED = "capped"  # the person has had their weekly share of marketing email


def record_item(record: SendRecord) -> dict[str, Any]:
    at = iso_utc(record.claimed_at or record.updated_at)
    return {
        **keys.send_key(record.message_id),
        **keys.send_profile_index(record.profile_id, at, record.message_id),
        **record.model_dump(by_alias=True, exclude_none=True),
    }


def get_send(message_id: str) -> SendRecord | None:
    item = get_item(get_settings().main_table, keys.send_key(message_id), consistent=True)
    return SendRecord.model_validate(item) if item else None


def sends_by_id(message_ids: Iterable[str]) -> dict[str, SendRecord]:
    items = batch_get(get_settings().main_table, [keys.send_key(message_id) for message_id in message_ids])
    records = (SendRecord.model_validate(item) for item in items)
    return {record.message_id: record for record in records}


def iso_week(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def _week_end(at: datetime) -> datetime:
    start = (at - timedelta(days=at.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=7)


def claim(record: SendRecord, *, weekly_cap: int) -> ClaimOutcome:
    """Create the claim and count it against the weekly cap (0: no cap), atomically."""
    table = get_settings().main_table
    claimed_at = record.claimed_at or record.updated_at
    put: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": table,
            "Item": serialize(record_item(record)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    if weekly_cap <= 0:
        try:
            dynamodb().put_item(**put["Put"])
        except ClientError as exc:
            if _code(exc) == CONDITION_FAILED:
                return ClaimOutcome.TAKEN
            raise
        return ClaimOutcome.CLAIMED
    count: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": table,
            "Key": serialize(keys.email_cap_key(record.profile_id, iso_week(claimed_at))),
            "UpdateExpression": "ADD sent :one SET #ttl = if_not_exists(#ttl, :ttl)",
            "ConditionExpression": "attribute_not_exists(sent) OR sent < :cap",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": serialize(
                {
                    ":one": 1,
                    ":cap": weekly_cap,
                    ":ttl": int((_week_end(claimed_at) + COUNTER_GRACE).timestamp()),
                }
            ),
        }
    }
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=[put, count])
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return ClaimOutcome.TAKEN
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            return ClaimOutcome.CAPPED
        raise
    return ClaimOutcome.CLAIMED


def sends_of_profile(profile_id: str, since: datetime) -> list[SendRecord]:
    """A person's send records claimed at or after `since`, oldest first: one Query on the by-profile
    index (GSI1), however many emails other people got."""
    partition = keys.send_profile_index(profile_id, "", "")["gsi1pk"]
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk >= :since",
        "ExpressionAttributeValues": serialize({":pk": partition, ":since": iso_utc(since)}),
    }
    records: list[SendRecord] = []
    while True:
        response = dynamodb().query(**request)
        records.extend(SendRecord.model_validate(deserialize(item)) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return records
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def emails_this_week(profile_id: str, at: datetime) -> int:
    item = get_item(get_settings().main_table, keys.email_cap_key(profile_id, iso_week(at)), consistent=True)
    return int(item.get("sent", 0)) if item else 0


def record_outcome(record: SendRecord) -> bool:
    """Store a final outcome for a message that was never claimed (skipped before sending). False when a
    record exists already: another delivery got there first, and its outcome stands. A skip of a campaign
    or journey email is counted "skipped" in its report in the same transaction: once, like the record."""
    group = group_of(record) if record.status is SendStatus.SKIPPED else None
    if group is None:
        return _put_new(record_item(record))
    put: PutTypeDef = {
        "TableName": get_settings().main_table,
        "Item": serialize(record_item(record)),
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=[{"Put": put}, counter_update(group, Metric.SKIPPED)])
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False
        raise
    return True


def reclaim(record: SendRecord, *, new_token: str, at: datetime, email: str | None = None) -> bool:
    """Take over `record`'s claim (stale, or released for a retry). Only one caller can: the condition is
    on the claim token this caller read."""
    values: dict[str, Any] = {
        ":sending": SendStatus.SENDING.value,
        ":retry": SendStatus.RETRY.value,
        ":new": new_token,
        ":old": record.claim_token or "",
        ":at": iso_utc(at),
        ":one": 1,
    }
    sets = "#status = :sending, claimToken = :new, claimedAt = :at, updatedAt = :at"
    if email:
        sets += ", email = :email"
        values[":email"] = email
    return _update(
        record.message_id,
        f"SET {sets} ADD attempts :one",
        "#status IN (:sending, :retry) AND claimToken = :old",
        values,
    )


def mark_sent(
    message_id: str,
    token: str,
    *,
    ses_message_id: str,
    subject: str,
    at: datetime,
    report: ReportGroup | None = None,
) -> bool:
    """The claim holder records that SES accepted the email, and counts it "sent" in its report group in
    the same transaction (the change from `sending` happens once per message, so it counts once)."""
    return _update(
        message_id,
        "SET #status = :sent, sesMessageId = :ses, sentAt = if_not_exists(sentAt, :at), "
        "subject = :subject, updatedAt = :at REMOVE reason",
        "claimToken = :token AND #status = :sending",
        {
            ":sent": SendStatus.SENT.value,
            ":sending": SendStatus.SENDING.value,
            ":ses": ses_message_id,
            ":subject": subject,
            ":token": token,
            ":at": iso_utc(at),
        },
        report=report,
    )


def release(
    message_id: str,
    token: str,
    *,
    status: SendStatus,
    reason: str,
    at: datetime,
    report: ReportGroup | None = None,
) -> bool:
    """The claim holder knows SES did not send: RETRY (the queue will try again) or FAILED (final), or
    decided not to send after all (SKIPPED, counted in `report` with the change)."""
    return _update(
        message_id,
        "SET #status = :status, reason = :reason, updatedAt = :at",
        "claimToken = :token AND #status = :sending",
        {
            ":status": status.value,
            ":reason": reason[:500],
            ":token": token,
            ":sending": SendStatus.SENDING.value,
            ":at": iso_utc(at),
        },
        report=report,
        metric=Metric.SKIPPED,
    )


def confirm_sent(message_id: str, *, ses_message_id: str, at: datetime) -> bool:
    """SES's "Send" event for a message still claimed as sending: it was sent (the sender died before
    recording it), and is counted "sent" now. A no-op for a message already marked sent."""
    record = get_send(message_id)
    if record is None or record.status is not SendStatus.SENDING:
        return False  # the usual case: the sender recorded it already
    return _update(
        message_id,
        "SET #status = :sent, sesMessageId = :ses, sentAt = if_not_exists(sentAt, :at), updatedAt = :at",
        "#status = :sending",
        {
            ":sent": SendStatus.SENT.value,
            ":sending": SendStatus.SENDING.value,
            ":ses": ses_message_id,
            ":at": iso_utc(at),
        },
        report=group_of(record),
    )


def _put_new(item: dict[str, Any]) -> bool:
    try:
        dynamodb().put_item(
            TableName=get_settings().main_table,
            Item=serialize(item),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as exc:
        if _code(exc) == CONDITION_FAILED:
            return False
        raise
    return True


def _update(
    message_id: str,
    expression: str,
    condition: str,
    values: dict[str, Any],
    *,
    report: ReportGroup | None = None,
    metric: Metric = Metric.SENT,
) -> bool:
    """A conditional update of a send record; with `report`, in one transaction with the report's
    `metric` counter ("sent" unless told; both or neither)."""
    update: UpdateTypeDef = {
        "TableName": get_settings().main_table,
        "Key": serialize(keys.send_key(message_id)),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": serialize(values),
    }
    client = dynamodb()
    if report is not None:
        try:
            client.transact_write_items(TransactItems=[{"Update": update}, counter_update(report, metric)])
        except client.exceptions.TransactionCanceledException as exc:
            reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            raise
        return True
    try:
        client.update_item(**update)
    except ClientError as exc:
        if _code(exc) == CONDITION_FAILED:
            return False
        raise
    return True


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))

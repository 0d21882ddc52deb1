"""Storage and outside calls of a handoff: its record and step markers, round-robin assignment, the sales
users directory (Cognito), the owner's email (SES) and the `lead.qualified` event (EventBridge).

Every write here is conditional, so that running a handoff twice (a retried batch, two shards touching one
person) makes each step once. docs/scoring.md, "Handoff, exactly once", walks through them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from leadstream import clock, keys
from leadstream.aws import cognito_idp, dynamodb, eventbridge, sesv2
from leadstream.caches import TtlCache
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize
from leadstream.store.profiles import transact
from scoring.handoffs import HandoffRecord, SalesUser, SendFailed, handoff_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

Step = Literal["email", "event"]
# Per user pool and group: the functions configured with another pool never see these users.
_directory: TtlCache[tuple[str, str], list[SalesUser]] = TtlCache(now=clock.now)


# --- the record -------------------------------------------------------------------------------------------
def get_record(profile_id: str, number: int) -> HandoffRecord | None:
    item = get_item(get_settings().main_table, keys.handoff_key(profile_id, number), consistent=True)
    return HandoffRecord.model_validate(item) if item else None


def records_of(profile_id: str) -> list[HandoffRecord]:
    """Every handoff of a profile, the latest first (a handful at most: one per qualification)."""
    response = dynamodb().query(
        TableName=get_settings().main_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues=serialize(
            {":pk": keys.profile_key(profile_id)["pk"], ":prefix": keys.HANDOFF_SK_PREFIX}
        ),
        ScanIndexForward=False,
    )
    return [HandoffRecord.model_validate(deserialize(item)) for item in response.get("Items", [])]


def round_robin_position() -> int:
    item = get_item(get_settings().main_table, keys.round_robin_key(), consistent=True)
    return int(item["position"]) if item else 0


def assign(record: HandoffRecord, owner: SalesUser | None, *, by: str, round_robin_from: int | None) -> bool:
    """Record the owner, once. With `round_robin_from`, the round-robin position moves on in the same
    transaction, only from that value: the rotation advances exactly when a handoff takes its turn.
    False when the record was assigned meanwhile or the position moved (read both again)."""
    table = get_settings().main_table
    fields: dict[str, Any] = {":by": by}
    expression = "SET assignedBy = :by"
    if owner is not None:
        fields |= {":owner": owner.user_id, ":email": owner.email or ""}
        expression += ", ownerId = :owner, ownerEmail = :email"
    items: list[TransactWriteItemTypeDef] = [
        {
            "Update": {
                "TableName": table,
                "Key": serialize(keys.handoff_key(record.profile_id, record.number)),
                "UpdateExpression": expression,
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(assignedBy)",
                "ExpressionAttributeValues": serialize(fields),
            }
        }
    ]
    if round_robin_from is not None:
        condition = "attribute_not_exists(#p) OR #p = :from"
        items.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": serialize(keys.round_robin_key()),
                    "UpdateExpression": "SET #p = :next",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#p": "position"},
                    "ExpressionAttributeValues": serialize(
                        {":from": round_robin_from, ":next": round_robin_from + 1}
                    ),
                }
            }
        )
    return transact(items)


def claim(record: HandoffRecord, step: Step, token: str, at: str) -> bool:
    """Mark the step as started (before the call). False: someone else claimed it before us.

    A refused condition is checked against the stored claim: if it is ours (the client retried a write
    whose answer was lost), the step is ours to do.
    """
    if _update(
        record,
        "SET #s = :state",
        "attribute_not_exists(#s)",
        names={"#s": step},
        values={":state": {"claim": token, "claimedAt": at}},
    ):
        return True
    stored = get_record(record.profile_id, record.number)
    state = getattr(stored, step) if stored is not None else None
    return state is not None and state.claim == token


def record_result(record: HandoffRecord, step: Step, token: str, result_id: str) -> None:
    """Note the call's id (after the call): the step is done."""
    _update(
        record,
        "SET #s.resultId = :id",
        "#s.claim = :token",
        names={"#s": step},
        values={":id": result_id, ":token": token},
    )


def release(record: HandoffRecord, step: Step, token: str) -> None:
    """Forget our claim after a call that surely failed, so that a retry makes the call."""
    _update(record, "REMOVE #s", "#s.claim = :token", names={"#s": step}, values={":token": token})


def complete(record: HandoffRecord, at: str) -> None:
    _update(record, "SET completedAt = :at", "attribute_not_exists(completedAt)", values={":at": at})


def mark_profile_done(profile_id: str, number: int) -> None:
    """Note on the profile that its handoff is complete, so later batches need not look at it again.

    Bumps `version` (without checking it): a concurrent stream batch that read the profile before this
    write then loses its race, reads again and keeps the mark.
    """
    try:
        dynamodb().update_item(
            TableName=get_settings().main_table,
            Key=serialize(keys.profile_key(profile_id)),
            UpdateExpression="SET score.handoff.completed = :yes, version = version + :one",
            ConditionExpression="score.handoff.#n = :number AND score.handoff.completed = :no",
            ExpressionAttributeNames={"#n": "number"},
            ExpressionAttributeValues=serialize({":yes": True, ":no": False, ":one": 1, ":number": number}),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise  # else: marked already, or a newer handoff replaced this one: nothing to note


def _update(
    record: HandoffRecord,
    expression: str,
    condition: str,
    *,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> bool:
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "Key": serialize(keys.handoff_key(record.profile_id, record.number)),
        "UpdateExpression": expression,
        "ConditionExpression": f"attribute_exists(pk) AND ({condition})",
    }
    if names:
        request["ExpressionAttributeNames"] = names
    if values:
        request["ExpressionAttributeValues"] = serialize(values)
    try:
        dynamodb().update_item(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


# --- who sales is -----------------------------------------------------------------------------------------
def sales_users() -> list[SalesUser]:
    """Enabled members of the sales group, in a stable order (cached per container, like other config)."""
    settings = handoff_settings()
    return _directory.get(
        (settings.user_pool_id, settings.sales_group),
        lambda: _read_sales_users(settings.user_pool_id, settings.sales_group),
        max_age=get_settings().config_cache_seconds,
    )


def _read_sales_users(user_pool_id: str, group: str) -> list[SalesUser]:
    users: list[SalesUser] = []
    request: dict[str, Any] = {"UserPoolId": user_pool_id, "GroupName": group}
    while True:
        response = cognito_idp().list_users_in_group(**request)
        for user in response.get("Users", []):
            if not user.get("Enabled", True):
                continue
            attributes = {item["Name"]: item["Value"] for item in user.get("Attributes", [])}
            users.append(
                SalesUser(
                    user_id=attributes.get("sub", user["Username"]),
                    username=user["Username"],
                    email=attributes.get("email"),
                    name=attributes.get("name"),
                )
            )
        if not response.get("NextToken"):
            break
        request["NextToken"] = response["NextToken"]
    users.sort(key=lambda user: (user.username, user.user_id))
    return users


# --- notifications ----------------------------------------------------------------------------------------
def send_email(to: str, subject: str, text: str, html: str) -> str:
    """Send one email through SES; returns its message id. Raises SendFailed when surely not sent."""
    settings = handoff_settings()
    request: dict[str, Any] = {
        "FromEmailAddress": settings.sender,
        "Destination": {"ToAddresses": [to]},
        "Content": {
            "Simple": {
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": text, "Charset": "UTF-8"},
                    "Html": {"Data": html, "Charset": "UTF-8"},
                },
            }
        },
    }
    if settings.configuration_set:
        request["ConfigurationSetName"] = settings.configuration_set
    response = _call_once(lambda: sesv2().send_email(**request))
    return str(response["MessageId"])


def publish(detail_type: str, source: str, detail: dict[str, Any]) -> str:
    """Put one event on the stack's bus; returns its event id. Raises SendFailed when surely not put."""
    entry = {
        "EventBusName": handoff_settings().event_bus,
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, separators=(",", ":"), default=str),
    }
    response = _call_once(lambda: eventbridge().put_events(Entries=[entry]))
    [result] = response.get("Entries", [{}])
    if response.get("FailedEntryCount") or "EventId" not in result:
        raise SendFailed(
            f"EventBridge refused the event: {result.get('ErrorCode')} {result.get('ErrorMessage')}"
        )
    return str(result["EventId"])


def _call_once(call: Any) -> Any:
    """Make a call that must not be repeated blindly, telling a sure failure from an unknown outcome."""
    try:
        return call()
    except ClientError as exc:  # the service answered: it did not do it
        raise SendFailed(f"{exc.response.get('Error', {}).get('Code')}: {exc}") from exc
    except (EndpointConnectionError, ConnectTimeoutError) as exc:  # never reached the service
        raise SendFailed(str(exc)) from exc
    # Anything else (a read timeout) leaves the outcome unknown: it propagates, the claim stays.

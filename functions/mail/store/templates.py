"""Email templates in the main table: a head item (latest version, in the GSI1 list unless archived) and
one immutable item per version. A create or update writes both in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize
from mail.template_models import EmailTemplate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef


def _content(template: EmailTemplate) -> dict[str, Any]:
    return template.model_dump(by_alias=True, mode="json", exclude_none=True)


def _head_item(template: EmailTemplate) -> dict[str, Any]:
    item = {**keys.template_key(template.template_id), **_content(template)}
    if not template.archived:
        item |= keys.template_list_index(iso_utc(template.updated_at), template.template_id)
    return item


def _version_item(template: EmailTemplate) -> dict[str, Any]:
    return {**keys.template_version_key(template.template_id, template.version), **_content(template)}


def save_version(template: EmailTemplate) -> bool:
    """Store `template` as its new version and as the head. It must be the next version: version 1 only if
    the template does not exist, version n only if the head is still n-1 (False otherwise: someone else
    saved meanwhile)."""
    table = get_settings().main_table
    head: PutTypeDef = {
        "TableName": table,
        "Item": serialize(_head_item(template)),
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    if template.version > 1:
        head["ConditionExpression"] = "version = :previous AND archived = :false"
        head["ExpressionAttributeValues"] = serialize({":previous": template.version - 1, ":false": False})
    items: list[TransactWriteItemTypeDef] = [
        {"Put": head},
        {
            "Put": {
                "TableName": table,
                "Item": serialize(_version_item(template)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" in reasons:
            return False
        raise
    return True


def archive(template: EmailTemplate) -> bool:
    """Take the template out of the list; its versions stay readable (queued sends still render them)."""
    try:
        dynamodb().update_item(
            TableName=get_settings().main_table,
            Key=serialize(keys.template_key(template.template_id)),
            UpdateExpression="SET archived = :true, updatedAt = :now, updatedBy = :by REMOVE gsi1pk, gsi1sk",
            ConditionExpression="version = :version",
            ExpressionAttributeValues=serialize(
                {
                    ":true": True,
                    ":now": iso_utc(template.updated_at),
                    ":by": template.updated_by or "",
                    ":version": template.version,
                }
            ),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_template(template_id: str) -> EmailTemplate | None:
    item = get_item(get_settings().main_table, keys.template_key(template_id), consistent=True)
    return EmailTemplate.model_validate(item) if item else None


def get_version(template_id: str, version: int) -> EmailTemplate | None:
    item = get_item(get_settings().main_table, keys.template_version_key(template_id, version))
    return EmailTemplate.model_validate(item) if item else None


def heads(template_ids: Iterable[str]) -> dict[str, EmailTemplate]:
    """Several templates as they are now (latest versions, archived or not), by id: one consistent
    BatchGetItem per 100."""
    items = batch_get(
        get_settings().main_table, [keys.template_key(template_id) for template_id in template_ids]
    )
    found = (EmailTemplate.model_validate(item) for item in items)
    return {template.template_id: template for template in found}


def versions(wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], EmailTemplate]:
    """Several template versions in one BatchGetItem (versions never change: eventually consistent)."""
    items = batch_get(
        get_settings().main_table,
        [keys.template_version_key(template_id, version) for template_id, version in wanted],
        consistent=False,
    )
    found = (EmailTemplate.model_validate(item) for item in items)
    return {(template.template_id, template.version): template for template in found}


def list_templates(
    *, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[EmailTemplate], dict[str, Any] | None]:
    """Live templates, most recently changed first: one Query on GSI1."""
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :list",
        "ExpressionAttributeValues": serialize({":list": keys.TEMPLATE_LIST}),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    response = dynamodb().query(**request)
    templates = [EmailTemplate.model_validate(deserialize(item)) for item in response.get("Items", [])]
    return templates, response.get("LastEvaluatedKey")

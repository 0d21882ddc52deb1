"""Attachment metadata in the main table, in the partition of the record it belongs to (keys.py)."""

from __future__ import annotations

from crm.commerce.attachments import Attachment, ParentKind
from crm.store import records as record_store
from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item, serialize


def put_attachment(attachment: Attachment) -> None:
    """Store new metadata; its id is new, so the condition only guards against an id collision."""
    item = {
        **keys.attachment_key(_kind(attachment.parent_kind), attachment.parent_id, attachment.attachment_id),
        **attachment.model_dump(by_alias=True, mode="json"),
    }
    dynamodb().put_item(
        TableName=get_settings().main_table,
        Item=serialize(item),
        ConditionExpression="attribute_not_exists(pk)",
    )


def get_attachment(parent: ParentKind, parent_id: str, attachment_id: str) -> Attachment | None:
    key = keys.attachment_key(_kind(parent), parent_id, attachment_id)
    item = get_item(get_settings().main_table, key, consistent=True)
    return Attachment.model_validate(item) if item else None


def list_attachments(
    parent: ParentKind, parent_id: str, *, limit: int, cursor: str | None
) -> tuple[list[Attachment], str | None]:
    partition = keys.attachment_key(_kind(parent), parent_id, "")["pk"]
    items, next_cursor = record_store.query_page(
        record_store.ListQuery(
            None, partition, sort_prefix=keys.ATTACHMENT_PREFIX, limit=limit, cursor=cursor
        )
    )
    return [Attachment.model_validate(item) for item in items], next_cursor


def _kind(parent: ParentKind) -> str:
    return parent.value.removesuffix("s")  # "quotes" -> "quote": the record's own key tag

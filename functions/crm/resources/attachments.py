"""Attachments of quotes, orders, contracts and tickets: files that browsers upload to and download from
S3 directly, with presigned URLs (crm.commerce.attachments). Who may read or write a record may read or
attach its files."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import Field

from crm.api.framework import RecordIdPath, Resource
from crm.commerce.attachments import Attachment, AttachmentInput, ParentKind, object_key
from crm.commerce.settings import get_commerce_settings
from crm.commerce.store import attachments as store
from crm.commerce.store import files
from crm.resources.contracts import CONTRACTS
from crm.resources.orders import ORDERS
from crm.resources.quotes import QUOTES
from crm.resources.tickets import TICKETS
from leadstream import clock
from leadstream.api import Api, ListParams
from leadstream.errors import Conflict, NotFound
from leadstream.models import Model

AttachmentIdPath = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="the attachment's id")]


class Upload(Model):
    """Send the file as multipart/form-data to `url`: every field of `fields`, then the file as `file`."""

    method: str
    url: str
    fields: dict[str, str]
    expires_at: str = Field(alias="expiresAt")


class Download(Model):
    method: str
    url: str
    expires_at: str = Field(alias="expiresAt")


class NewAttachment(Model):
    attachment: Attachment
    upload: Upload


class AttachmentWithLink(Model):
    attachment: Attachment
    download: Download


class AttachmentPage(Model):
    items: list[Attachment]
    next_cursor: str | None = Field(default=None, alias="nextCursor")


def register(api: Api) -> None:
    for parent, resource in (
        (ParentKind.QUOTES, QUOTES),
        (ParentKind.ORDERS, ORDERS),
        (ParentKind.CONTRACTS, CONTRACTS),
        (ParentKind.TICKETS, TICKETS),
    ):
        _register_for(api, parent, resource)


def _register_for(api: Api, parent: ParentKind, resource: Resource) -> None:
    kind = resource.record.kind
    base = f"/crm/{parent.value}/<record_id>/attachments"

    def create_attachment(record_id: RecordIdPath, body: AttachmentInput) -> NewAttachment:
        principal = api.principal()
        resource.get(record_id, principal)
        attachment_id = str(uuid.uuid4())
        attachment = Attachment(
            attachment_id=attachment_id,
            parent_kind=parent,
            parent_id=record_id,
            file_name=body.file_name,
            content_type=body.content_type,
            size=body.size,
            object_key=object_key(parent, record_id, attachment_id),
            uploaded_by=principal.user_id,
            created_at=clock.now(),
        )
        store.put_attachment(attachment)
        form = files.upload_form(get_commerce_settings().require_bucket(), attachment)
        return NewAttachment(attachment=attachment, upload=Upload.model_validate(form))

    def list_record_attachments(
        record_id: RecordIdPath, params: Annotated[ListParams, Query()]
    ) -> AttachmentPage:
        resource.get(record_id, api.principal())
        items, cursor = store.list_attachments(parent, record_id, limit=params.limit, cursor=params.cursor)
        return AttachmentPage(items=items, nextCursor=cursor)

    def get_attachment(record_id: RecordIdPath, attachment_id: AttachmentIdPath) -> AttachmentWithLink:
        resource.get(record_id, api.principal())
        attachment = store.get_attachment(parent, record_id, attachment_id)
        if attachment is None:
            raise NotFound(f"No attachment {attachment_id} on {kind} {record_id}.")
        bucket = get_commerce_settings().require_bucket()
        if not files.is_uploaded(bucket, attachment):
            raise Conflict(
                f"{attachment.file_name} has not been uploaded yet: send it with the upload form "
                "this attachment was created with, then ask again."
            )
        link = files.download_link(bucket, attachment)
        return AttachmentWithLink(attachment=attachment, download=Download.model_validate(link))

    routes: list[tuple[str, str, Callable[..., Any], dict[str, Any]]] = [
        ("POST", base, create_attachment, {"status_code": 201, "problems": [404]}),
        ("GET", base, list_record_attachments, {"problems": [400, 404]}),
        ("GET", f"{base}/<attachment_id>", get_attachment, {"problems": [404, 409]}),
    ]
    for method, rule, handler, extra in routes:
        # One handler per record kind: names (and OpenAPI operation ids) must differ.
        name = handler.__name__.replace("attachment", f"{kind}_attachment", 1)
        handler.__name__ = name
        api.route(
            method,
            rule,
            policy=resource.write if method == "POST" else resource.read,
            summary=_summary(method, rule, kind),
            tag=resource.tag,
            operation_id=name,
            **extra,
        )(handler)


def _summary(method: str, rule: str, kind: str) -> str:
    if method == "POST":
        return f"Attach a file to a {kind}: returns a presigned upload form"
    if rule.endswith("<attachment_id>"):
        return f"A {kind}'s attachment with a presigned download link"
    return f"A {kind}'s attachments"

"""Attachments: files kept in the attachments bucket, uploaded and downloaded by the browser directly.

The API never carries file bytes. Creating an attachment records its metadata and returns a presigned
POST (valid 15 minutes) whose policy pins the object key, the content type and the size; downloading
returns a presigned GET (valid 5 minutes) that names the file in Content-Disposition. The object key
holds no user text (file names are metadata), so a name cannot reach into another record's folder.
"""

from __future__ import annotations

import re
import urllib.parse
from enum import StrEnum

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from leadstream.models import Model
from leadstream.numbers import StorableInt

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 5 * 60
KEY_PREFIX = "attachments/"
_CONTENT_TYPE = r"^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,126}$"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


class ParentKind(StrEnum):
    """Records that hold attachments (the path segment of their routes)."""

    QUOTES = "quotes"
    ORDERS = "orders"
    CONTRACTS = "contracts"
    TICKETS = "tickets"


class AttachmentInput(Model):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    file_name: str = Field(alias="fileName", min_length=1, max_length=255)
    content_type: str = Field(alias="contentType", pattern=_CONTENT_TYPE)
    size: StorableInt = Field(ge=1, le=MAX_ATTACHMENT_BYTES, description="bytes; the upload must match it")

    @field_validator("file_name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if _UNSAFE_NAME.search(name) or name.strip() in {"", ".", ".."}:
            raise ValueError("a file name without slashes or control characters, e.g. contract.pdf")
        return name.strip()


class Attachment(Model):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    attachment_id: str = Field(alias="attachmentId")
    parent_kind: ParentKind = Field(alias="parentKind")
    parent_id: str = Field(alias="parentId")
    file_name: str = Field(alias="fileName")
    content_type: str = Field(alias="contentType")
    size: int
    object_key: str = Field(alias="objectKey")
    uploaded_by: str = Field(alias="uploadedBy")
    created_at: AwareDatetime = Field(alias="createdAt")


def object_key(parent: ParentKind, parent_id: str, attachment_id: str) -> str:
    return f"{KEY_PREFIX}{parent.value}/{urllib.parse.quote(parent_id, safe='')}/{attachment_id}"


def content_disposition(file_name: str) -> str:
    """RFC 6266: an ASCII fallback name and the exact UTF-8 name, so any file name downloads as itself."""
    fallback = file_name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(file_name, safe='')}"

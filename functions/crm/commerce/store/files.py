"""Attachment files in S3: presigned uploads and downloads, and whether an upload has arrived."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from crm.commerce.attachments import DOWNLOAD_URL_SECONDS, UPLOAD_URL_SECONDS, Attachment, content_disposition


def _s3() -> Any:
    # One client per endpoint: in Lambda that is one per container; the local stack changes endpoints.
    return _client(os.environ.get("AWS_ENDPOINT_URL"))


@cache
def _client(endpoint: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # SigV4 presigning (the only kind newer regions and KMS-encrypted objects accept); path-style
    # addressing works with any endpoint, including the local stack's.
    return boto3.client(
        "s3", endpoint_url=endpoint, config=Config(signature_version="s3v4", s3={"addressing_style": "path"})
    )


def upload_form(bucket: str, attachment: Attachment) -> dict[str, Any]:
    """A presigned POST: the URL and form fields a browser sends with the file. S3 itself refuses an
    upload of another size or content type, or to another key."""
    post = _s3().generate_presigned_post(
        Bucket=bucket,
        Key=attachment.object_key,
        Fields={"Content-Type": attachment.content_type},
        Conditions=[
            {"Content-Type": attachment.content_type},
            ["content-length-range", attachment.size, attachment.size],
        ],
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    return {
        "method": "POST",
        "url": post["url"],
        "fields": post["fields"],
        "expiresAt": _in(UPLOAD_URL_SECONDS),
    }


def download_link(bucket: str, attachment: Attachment) -> dict[str, Any]:
    url = _s3().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": attachment.object_key,
            "ResponseContentDisposition": content_disposition(attachment.file_name),
            "ResponseContentType": attachment.content_type,
        },
        ExpiresIn=DOWNLOAD_URL_SECONDS,
    )
    return {"method": "GET", "url": url, "expiresAt": _in(DOWNLOAD_URL_SECONDS)}


def is_uploaded(bucket: str, attachment: Attachment) -> bool:
    from botocore.exceptions import ClientError

    try:
        _s3().head_object(Bucket=bucket, Key=attachment.object_key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def _in(seconds: int) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

"""Attachment files in S3: presigned uploads and downloads, and whether an upload has arrived."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from crm.commerce.attachments import DOWNLOAD_URL_SECONDS, UPLOAD_URL_SECONDS, Attachment, content_disposition
from leadstream import clock
from leadstream.aws import s3 as _s3


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
    try:
        _s3().head_object(Bucket=bucket, Key=attachment.object_key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def _in(seconds: int) -> str:
    # On the business clock, like every time the API states (S3 itself counts the URL's ExpiresIn).
    moment = clock.now() + timedelta(seconds=seconds)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

"""customerdata's files in S3: uploads (presigned PUT), chunks, error files (presigned GET).

Every object lives under `imports/<importId>/`; the bucket's lifecycle rule deletes them after 7 days.
Reads are streams (the S3 body), writes are one chunk or one error part at a time, so no function holds
a whole file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from botocore.exceptions import ClientError

from customerdata.config import customerdata_settings
from leadstream.aws import s3

UPLOAD_URL_SECONDS = 3600
DOWNLOAD_URL_SECONDS = 3600
_SPOOL_BYTES = 8 * 1024 * 1024  # an error file larger than this is spooled to /tmp while it is composed


def _bucket() -> str:
    return customerdata_settings().require_bucket()


def upload_url(key: str, content_type: str) -> str:
    return str(
        s3().generate_presigned_url(
            "put_object",
            Params={"Bucket": _bucket(), "Key": key, "ContentType": content_type},
            ExpiresIn=UPLOAD_URL_SECONDS,
        )
    )


def download_url(key: str, file_name: str) -> str:
    return str(
        s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": _bucket(),
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{file_name}"',
                "ResponseContentType": "text/csv; charset=utf-8",
            },
            ExpiresIn=DOWNLOAD_URL_SECONDS,
        )
    )


def size_of(key: str) -> int | None:
    """The object's size in bytes; None when nothing was uploaded there."""
    try:
        head = s3().head_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return int(head["ContentLength"])


def exists(key: str) -> bool:
    return size_of(key) is not None


def open_stream(key: str) -> IO[bytes]:
    body: IO[bytes] = s3().get_object(Bucket=_bucket(), Key=key)["Body"]
    return body


def put(key: str, body: bytes, content_type: str) -> None:
    s3().put_object(Bucket=_bucket(), Key=key, Body=body, ContentType=content_type)


def lines(key: str) -> Iterator[bytes]:
    yield from open_stream(key).iter_lines()  # type: ignore[attr-defined]


def compose(key: str, parts: Iterable[str], header: bytes, content_type: str) -> int:
    """One object from the parts that exist, in order, after `header`; its size. Memory: one read buffer
    (the parts are copied through a spooled temporary file, which moves to /tmp past 8 MB)."""
    client = s3()
    bucket = _bucket()
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        spool.write(header)
        for part in parts:
            try:
                body: Any = client.get_object(Bucket=bucket, Key=part)["Body"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                    continue
                raise
            for block in body.iter_chunks(chunk_size=1024 * 1024):
                spool.write(block)
        size = spool.tell()
        spool.seek(0)
        client.upload_fileobj(spool, bucket, key, ExtraArgs={"ContentType": content_type})
    return size

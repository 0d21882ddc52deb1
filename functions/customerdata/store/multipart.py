"""Export files in S3, written part by part with a multipart upload (every part but the last at least
5 MiB, S3's minimum), so the worker holds one part at a time, never the file.

A part uploaded again under its number replaces the earlier one, so a step that is retried rewrites its
part rather than adding one; the upload is completed with the parts 1..n that the job checkpointed.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from customerdata.config import customerdata_settings
from leadstream.aws import s3

CONTENT_TYPE = "text/csv; charset=utf-8"


def _bucket() -> str:
    return customerdata_settings().require_bucket()


def start(key: str) -> str:
    response = s3().create_multipart_upload(Bucket=_bucket(), Key=key, ContentType=CONTENT_TYPE)
    return str(response["UploadId"])


def upload_part(key: str, upload_id: str, number: int, body: bytes) -> bool:
    """False when the upload is gone (completed or aborted by another run of the step)."""
    try:
        s3().upload_part(Bucket=_bucket(), Key=key, UploadId=upload_id, PartNumber=number, Body=body)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
            return False
        raise
    return True


def complete(key: str, upload_id: str, parts: int) -> None:
    """The file from parts 1..`parts` (a part numbered beyond them, left by a run that died before its
    checkpoint, is dropped). Completing an upload completed before is a no-op."""
    client = s3()
    bucket = _bucket()
    etags: dict[int, str] = {}
    request: dict[str, Any] = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
    try:
        while True:
            response = client.list_parts(**request)
            for part in response.get("Parts", []):
                etags[int(part["PartNumber"])] = str(part["ETag"])
            if not response.get("IsTruncated"):
                break
            request["PartNumberMarker"] = response["NextPartNumberMarker"]
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in range(1, parts + 1)]},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload" and exists(key):
            return  # completed by an earlier run of this step
        raise


def abort(key: str, upload_id: str) -> None:
    try:
        s3().abort_multipart_upload(Bucket=_bucket(), Key=key, UploadId=upload_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise


def exists(key: str) -> bool:
    try:
        s3().head_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def download_url(key: str, file_name: str, seconds: int) -> str:
    return str(
        s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": _bucket(),
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{file_name}"',
                "ResponseContentType": CONTENT_TYPE,
            },
            ExpiresIn=seconds,
        )
    )

"""An erased person's rows in import files (the CustomerDataBucket's `imports/`, kept 7 days).

An upload, its chunks and its error file may hold a row about the person. Such an object is written again
without the lines that mention them (their address, name or phone number, in any case), and every earlier
version of it is deleted: the bucket is versioned. A line of a CSV that spans several lines (a quoted
newline) is matched line by line, so a match removes the line that carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from customerdata.config import customerdata_settings
from leadstream.aws import s3

PREFIX = "imports/"
# Objects larger than this are read in full all the same; an upload is at most 512 MB, but the rows of
# one person are found in its chunks too, which are small.
READ_CHUNK = 1024 * 1024


def _bucket() -> str:
    return customerdata_settings().require_bucket()


def variants(needles: Sequence[str]) -> list[bytes]:
    """The forms a value takes in a file: as is (compared in lower case), URL-encoded, JSON-escaped."""
    forms: set[str] = set()
    for needle in needles:
        lowered = needle.lower()
        forms.update({lowered, quote(lowered, safe=""), quote_plus(lowered)})
    return sorted({form.encode() for form in forms if form})


def objects_mentioning(needles: Sequence[str], limit: int) -> list[str]:
    """Keys of up to `limit` objects under imports/ whose current version mentions the person."""
    wanted = variants(needles)
    if not wanted:
        return []
    client = s3()
    found: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=PREFIX):
        for entry in page.get("Contents", []):
            body = client.get_object(Bucket=_bucket(), Key=entry["Key"])["Body"].read().lower()
            if any(form in body for form in wanted):
                found.append(entry["Key"])
                if len(found) >= limit:
                    return found
    return found


def remove_lines(keys: Sequence[str], needles: Sequence[str]) -> dict[str, int]:
    """Rewrite each object without the lines that mention the person, then delete its earlier versions."""
    wanted = variants(needles)
    client = s3()
    bucket = _bucket()
    rows = 0
    for key in keys:
        current = client.get_object(Bucket=bucket, Key=key)
        lines = current["Body"].read().splitlines(keepends=True)
        kept = [line for line in lines if not any(form in line.lower() for form in wanted)]
        rows += len(lines) - len(kept)
        written: dict[str, Any] = client.put_object(
            Bucket=bucket, Key=key, Body=b"".join(kept), ContentType=current.get("ContentType", "")
        )
        keep_version = written.get("VersionId")
        for listing in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
            for entry in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
                if entry["Key"] == key and entry["VersionId"] != keep_version:
                    client.delete_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])
    return {"files": len(keys), "rows": rows}

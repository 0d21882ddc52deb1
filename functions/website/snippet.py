"""The snippet, `GET /js/v1/leadstream.js`: a hand-written file (website/static/leadstream.js) served as
it is, no build step. Browsers and CDNs may keep it for a while; the ETag lets them revalidate."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from leadstream.caches import container_cache

SNIPPET_FILE = Path(__file__).resolve().parent / "static" / "leadstream.js"
JS_TYPE = "application/javascript; charset=utf-8"


@container_cache
def source() -> str:
    return SNIPPET_FILE.read_text(encoding="utf-8")


def etag() -> str:
    return '"' + hashlib.sha256(source().encode()).hexdigest()[:20] + '"'


def gzipped_size() -> int:
    return len(gzip.compress(source().encode(), compresslevel=9, mtime=0))


def headers() -> dict[str, str]:
    return {
        "Content-Type": JS_TYPE,
        "Cache-Control": "public, max-age=300, s-maxage=86400, stale-while-revalidate=86400",
        "ETag": etag(),
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Allow-Origin": "*",
    }

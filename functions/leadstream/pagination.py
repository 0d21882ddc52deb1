"""Cursor pagination for every list endpoint: `limit` and an opaque `cursor` (DynamoDB's LastEvaluatedKey).

The cursor is the last key, base64url-encoded JSON. It is not a secret (it holds only key attributes of
a row the caller could already see), but a malformed one is a 400 that says so, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from leadstream.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadRequest(
            "`cursor` is not one this API returned; pass `nextCursor` from the last page."
        ) from None
    if not isinstance(key, dict) or not all(isinstance(value, dict) for value in key.values()):
        raise BadRequest("`cursor` is not one this API returned; pass `nextCursor` from the last page.")
    return key


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"`limit` must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)

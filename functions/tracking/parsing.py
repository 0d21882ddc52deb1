"""Reading a Segment HTTP Tracking API request: path, write key, body, batch. Pure functions, no AWS.

Everything here turns client mistakes into typed errors (leadstream.errors) whose message says what to
fix; the resolver renders them as problem+json.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from typing import Any

from leadstream.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from leadstream.events import EVENT_TYPES, MAX_BATCH_EVENTS, MAX_REQUEST_BYTES, SHORT_TYPES

BATCH = "batch"
# Path segment -> what the request holds: one event type, or "batch".
PATH_TYPES: dict[str, str] = {
    **{name: name for name in EVENT_TYPES},
    **SHORT_TYPES,
    BATCH: BATCH,
    "b": BATCH,
}
# analytics.js posts JSON as text/plain so that the browser skips the CORS preflight.
JSON_MEDIA_TYPES = frozenset({"application/json", "text/plain", ""})
# Write keys are short tokens; anything longer is not one of ours (and would not fit a DynamoDB key).
MAX_WRITE_KEY_LENGTH = 200
# Our stored JSON is read back by pydantic, whose parser stops at 200 levels; real events use a handful.
MAX_NESTING_DEPTH = 64


def path_type(segment: str) -> str:
    """The event type (or "batch") that a `/v1/{type}` path segment names."""
    try:
        return PATH_TYPES[segment]
    except KeyError:
        known = ", ".join(sorted(PATH_TYPES))
        raise NotFound(f"/v1/{segment} is not a tracking endpoint; use one of /v1/{{{known}}}.") from None


def media_type(content_type: str | None) -> str:
    """`text/plain; charset=utf-8` -> `text/plain`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decompress(body: bytes, content_encoding: str | None) -> bytes:
    """The body as sent before `Content-Encoding`, refusing anything over MAX_REQUEST_BYTES."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        return gunzip_bounded(body, MAX_REQUEST_BYTES)
    if encoding != "identity":
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; send gzip or nothing.")
    check_request_size(len(body))
    return body


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """Gunzip at most `limit` bytes: a small zip bomb is refused without ever being inflated in full."""
    out = bytearray()
    remaining = data
    while remaining:  # a gzip stream may hold several members, one after the other
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            out += inflater.decompress(remaining, limit + 1 - len(out))
        except zlib.error as exc:
            raise BadRequest(f"The body is not valid gzip ({exc}).") from None
        check_request_size(len(out))
        if not inflater.eof:
            raise BadRequest("The gzip body ends before its end-of-stream marker; send the whole body.")
        remaining = inflater.unused_data
    return bytes(out)


def check_request_size(size: int) -> None:
    if size > MAX_REQUEST_BYTES:
        raise PayloadTooLarge(
            f"The request body is over {MAX_REQUEST_BYTES} bytes (after decompression); "
            "send fewer events per request."
        )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; a 400 says where the JSON broke."""
    if not body.strip():
        raise BadRequest("The body is empty; send a JSON object.")
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8 text.") from None
    except ValueError as exc:  # NaN or Infinity, refused by _refuse_constant
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise BadRequest("The body's JSON is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"The body must be a JSON object, not a JSON {_json_kind(payload)}.")
    return payload


def read_json_body(body: bytes, content_type: str | None, content_encoding: str | None) -> dict[str, Any]:
    """Media type, then decompression and size, then JSON: the order a client would fix them in."""
    kind = media_type(content_type)
    if kind not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {kind!r} is not supported; send application/json or text/plain."
        )
    return parse_json_object(decompress(body, content_encoding))


def write_key(authorization: str | None, payload: Mapping[str, Any]) -> str:
    """The write key: HTTP Basic username (`Basic base64("KEY:")`), else `writeKey` in the body."""
    key = _basic_username(authorization) if authorization else payload.get("writeKey")
    if not isinstance(key, str) or not key.strip():
        raise Unauthorized(
            "No write key: send it as the HTTP Basic username (password empty) or as `writeKey` in the body."
        )
    return key.strip()


def _basic_username(authorization: str) -> str:
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized("The Authorization header must use Basic auth with the write key as username.")
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("The Authorization header is not valid Basic auth (base64 of `KEY:`).") from None
    return decoded.partition(":")[0]


def is_plausible_write_key(key: str) -> bool:
    return len(key) <= MAX_WRITE_KEY_LENGTH and key.isprintable()


def expand(payload: dict[str, Any], kind: str) -> list[Any]:
    """The raw events a request carries. Batch items get the batch's context, integrations and sentAt."""
    if kind != BATCH:
        return [payload if "type" in payload else {**payload, "type": kind}]
    items = payload.get("batch")
    if not isinstance(items, list):
        raise BadRequest("A batch body needs `batch`: a list of events.")
    if not items:
        raise BadRequest("`batch` is empty; send at least one event.")
    if len(items) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(
            f"`batch` holds {len(items)} events; the limit is {MAX_BATCH_EVENTS} per request."
        )
    shared = {
        name: payload[name]
        for name in ("context", "integrations")
        if isinstance(payload.get(name), dict) and payload[name]
    }
    sent_at = payload.get("sentAt")
    return [_with_batch_defaults(item, shared, sent_at) for item in items]


def _with_batch_defaults(item: Any, shared: Mapping[str, dict[str, Any]], sent_at: Any) -> Any:
    if not isinstance(item, dict):
        return item  # rejected later, with its index
    merged = dict(item)
    for name, batch_value in shared.items():
        own = item.get(name)
        merged[name] = deep_merge(batch_value, own) if isinstance(own, dict) else batch_value
    if sent_at is not None and "sentAt" not in item:
        merged["sentAt"] = sent_at
    return merged


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` on top; nested objects merge, every other value of `override` wins."""
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        merged[key] = (
            deep_merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
        )
    return merged


def nesting_depth(value: Any) -> int:
    """How many objects/arrays deep `value` goes (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"

"""Reading a Segment HTTP Tracking API request: path, write key, body, batch. Pure functions, no AWS.

Everything here turns client mistakes into typed errors (leadstream.errors) whose message says what to
fix; the resolver renders them as problem+json.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from leadstream.errors import (
    BadRequest,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from leadstream.events import EVENT_TYPES, MAX_BATCH_EVENTS, MAX_REQUEST_BYTES, SHORT_TYPES
from leadstream.numbers import MAX_DIGITS, MAX_EXPONENT, fits_dynamodb

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
# A fraction without exponent this short has at most 15 significant digits: a double holds it as sent.
SHORT_FRACTION = 16
# Fields of a form post or a pixel query: far more than any real one.
MAX_FIELDS = 1000
# Enough to say what to fix; a hostile event could otherwise fill the answer with thousands.
MAX_CONTENT_ERRORS = 10
DEEPER_THAN_LIMIT = f"nests objects/arrays deeper than {MAX_NESTING_DEPTH} levels"
# Fields of a batch body that every item takes on (`expand`).
BATCH_ENVELOPE = ("sentAt", "context", "integrations")
_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_UNICODE = (
    "holds a lone surrogate (an escape from \\ud800 to \\udfff without its pair), which is no "
    "character; send the character itself or its escaped surrogate pair"
)


class Unkeepable:
    """A value the JSON parser reads but that cannot be kept as sent: a number no double or DynamoDB
    number holds, NaN or Infinity, a name given twice in one object. The parser puts one in the value's
    place, so only the event holding it is refused, with the path to it (`content_errors`), and its
    batch siblings stay.
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unkeepable({self.reason!r})"


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


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; a 400 says where the JSON broke. Values it reads but that cannot be kept
    as sent are left in place as `Unkeepable`s, for `content_errors` to refuse with their event."""
    if not body.strip():
        raise BadRequest("The body is empty; send a JSON object.")
    text = decode_text(body, json.detect_encoding(body))  # UTF-8; a BOM or UTF-16/32 as json reads them
    try:
        payload = json.loads(
            text,
            parse_float=_json_fraction,
            parse_int=_json_integer,
            parse_constant=_json_constant,
            object_pairs_hook=_json_object,
        )
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except RecursionError:  # the C parser's own limit, thousands of levels: far beyond MAX_NESTING_DEPTH
        raise BadRequest("The body's JSON is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"The body must be a JSON object, not a JSON {_json_kind(payload)}.")
    return payload


def decode_text(body: bytes, encoding: str = "utf-8") -> str:
    """The body as text; bytes that are not valid UTF-8 are a 400 (never replaced by U+FFFD)."""
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"The body is not valid UTF-8: byte {exc.object[exc.start]:#04x} at offset {exc.start} "
            "cannot be decoded; send the text encoded as UTF-8."
        ) from None


def _json_fraction(text: str) -> float | Unkeepable:
    """A JSON number with a fraction or an exponent, as the double it denotes, if that double is exactly
    the number sent: its shortest form (what every SDK writes, and what we store) must read back equal."""
    if len(text) <= SHORT_FRACTION and "e" not in text and "E" not in text:
        return float(text)  # 15 significant digits at most: always the shortest form of its double
    number = Decimal(text)
    if not fits_dynamodb(number):
        return Unkeepable(_out_of_range(text))
    value = float(text)
    if Decimal(repr(value)) != number:
        return Unkeepable(
            f"{_shown(text)} is not exactly a double: as one it is {value!r}; "
            f"send {value!r}, or send the number as a string"
        )
    return value


def _json_integer(text: str) -> int | Unkeepable:
    """A JSON integer, exactly, if a DynamoDB number can hold it (38 significant digits, below 1e126)."""
    if len(text) <= MAX_DIGITS:
        return int(text)
    # Checked before converting: int() of a long digit string costs time, and refuses over 4,300 digits.
    if len(text.lstrip("-")) > MAX_EXPONENT + 1 or not fits_dynamodb(Decimal(text)):
        return Unkeepable(_out_of_range(text))
    return int(text)


def _json_constant(name: str) -> Unkeepable:
    """NaN, Infinity and -Infinity: Python's json reads them, but they are not JSON and not storable."""
    return Unkeepable(f"{name} is not a JSON number; send a number or null")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object; a name given twice gets an Unkeepable value (which of the two was meant is unknowable)."""
    result = dict(pairs)
    if len(result) < len(pairs):
        for name, count in Counter(name for name, _ in pairs).items():
            if count > 1:
                result[name] = Unkeepable(f"the name is given {count} times in one object; send it once")
    return result


def _out_of_range(text: str) -> str:
    return (
        f"{_shown(text)} cannot be stored as sent: a number may have at most {MAX_DIGITS} significant "
        "digits, and must be 0 or between 1e-130 and 1e126 in size; send it as a string"
    )


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def content_errors(value: Any) -> list[dict[str, Any]]:
    """What in `value` cannot be kept as sent, each with its field path: `Unkeepable`s, names or strings
    holding a lone surrogate, NaN and infinities. At most MAX_CONTENT_ERRORS, in document order.
    Iterative, so deep nesting cannot exhaust the stack."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack and len(errors) < MAX_CONTENT_ERRORS:
        path, node = stack.pop()
        if isinstance(node, dict):
            children = []
            for name, inner in node.items():
                if has_lone_surrogate(name):
                    errors.append(_content_error((*path, name), f"the name {NOT_UNICODE}"))
                else:
                    children.append(((*path, name), inner))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed([((*path, index), inner) for index, inner in enumerate(node)]))
        elif isinstance(node, str) and has_lone_surrogate(node):
            errors.append(_content_error(path, f"the string {NOT_UNICODE}"))
        elif isinstance(node, Unkeepable):
            errors.append(_content_error(path, node.reason))
        elif isinstance(node, float) and not math.isfinite(node):
            errors.append(_content_error(path, f"{node} is not a JSON number"))
    return errors[:MAX_CONTENT_ERRORS]


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds half of a UTF-16 pair alone (JSON's "\\ud800"): no character, not UTF-8."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def _content_error(path: tuple[Any, ...], message: str) -> dict[str, Any]:
    return {"field": ".".join(readable(str(part)) for part in path) or "(event)", "message": message}


def readable(text: str) -> str:
    """`text` safe to show and to encode as UTF-8: a lone surrogate appears as its escape, `\\ud800`."""
    return text.encode("utf-8", "backslashreplace").decode() if has_lone_surrogate(text) else text


def decode_query(query: str, *, max_fields: int) -> list[tuple[str, str]]:
    """The name/value pairs of a URL query or urlencoded form. A 400 names the first field whose
    percent-escapes do not decode to UTF-8 (never replaced by U+FFFD)."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="surrogateescape", max_num_fields=max_fields)
    except ValueError:
        raise BadRequest(f"There are more than {max_fields} fields; send fewer.") from None
    for name, value in pairs:
        if has_lone_surrogate(name) or has_lone_surrogate(value):
            field = readable(name)
            message = "its percent-escapes do not decode to UTF-8; percent-encode the UTF-8 bytes of the text"
            raise BadRequest(
                f"Field {field!r} is not valid: {message}.", errors=[{"field": field, "message": message}]
            )
    return pairs


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
    if isinstance(key, Unkeepable):
        raise Unauthorized(f"`writeKey` cannot be read: {key.reason}.")
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
    if isinstance(items, Unkeepable):
        raise BadRequest(f"`batch` cannot be read: {items.reason}.")
    if not isinstance(items, list):
        raise BadRequest("A batch body needs `batch`: a list of events.")
    if not items:
        raise BadRequest("`batch` is empty; send at least one event.")
    if len(items) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(
            f"`batch` holds {len(items)} events; the limit is {MAX_BATCH_EVENTS} per request."
        )
    check_envelope(payload)
    shared = {
        name: payload[name]
        for name in ("context", "integrations")
        if isinstance(payload.get(name), dict) and payload[name]
    }
    sent_at = payload.get("sentAt")
    return [_with_batch_defaults(item, shared, sent_at) for item in items]


def check_envelope(payload: Mapping[str, Any]) -> None:
    """The batch's own `sentAt`, `context` and `integrations`, which every item takes on: refused once for
    the whole batch (a 422 naming the field), rather than with each of its events."""
    envelope = {name: payload[name] for name in BATCH_ENVELOPE if name in payload}
    errors = content_errors(envelope)
    errors += [  # each item holds the value one level down, so it may nest one level less
        {"field": name, "message": f"the event {DEEPER_THAN_LIMIT}"}
        for name, value in envelope.items()
        if nesting_depth(value) >= MAX_NESTING_DEPTH
    ]
    if errors:
        raise InvalidInput("The batch's shared fields cannot be kept as sent; see errors.", errors=errors)


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

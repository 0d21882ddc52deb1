"""Reading Segment HTTP API requests: paths, write keys, bodies (gzip, text/plain), batches and limits."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from leadstream.errors import (
    BadRequest,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from leadstream.events import MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_REQUEST_BYTES
from tracking import logic, parsing


@pytest.mark.parametrize(
    ("segment", "kind"),
    [
        ("identify", "identify"),
        ("track", "track"),
        ("page", "page"),
        ("screen", "screen"),
        ("group", "group"),
        ("alias", "alias"),
        ("batch", "batch"),
        ("i", "identify"),
        ("t", "track"),
        ("p", "page"),
        ("s", "screen"),
        ("g", "group"),
        ("a", "alias"),
        ("b", "batch"),
    ],
)
def test_long_and_short_paths_name_the_event_type(segment: str, kind: str) -> None:
    assert parsing.path_type(segment) == kind


@pytest.mark.parametrize("segment", ["import", "x", "Track", ""])
def test_unknown_path_is_not_found(segment: str) -> None:
    with pytest.raises(NotFound, match="not a tracking endpoint"):
        parsing.path_type(segment)


def test_text_plain_body_is_read_as_json() -> None:
    body = b'{"type": "track", "event": "Clicked"}'
    assert parsing.read_json_body(body, "text/plain;charset=UTF-8", None) == {
        "type": "track",
        "event": "Clicked",
    }


def test_missing_content_type_is_read_as_json() -> None:
    assert parsing.read_json_body(b"{}", None, None) == {}


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/xml", "image/png"])
def test_other_content_types_are_refused(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="application/json or text/plain"):
        parsing.read_json_body(b"{}", content_type, None)


def test_gzip_body_is_decompressed() -> None:
    payload = {"batch": [{"type": "track", "event": "E", "anonymousId": "a"}] * 50}
    body = gzip.compress(json.dumps(payload).encode())
    assert parsing.read_json_body(body, "application/json", "gzip") == payload


def test_concatenated_gzip_members_are_all_read() -> None:
    body = gzip.compress(b'{"a": ') + gzip.compress(b"1}")
    assert parsing.read_json_body(body, "application/json", "gzip") == {"a": 1}


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b" " * (50 * MAX_REQUEST_BYTES))
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge, match="after decompression"):
        parsing.decompress(bomb, "gzip")


def test_body_at_the_limit_is_accepted_and_one_byte_more_is_not() -> None:
    assert len(parsing.gunzip_bounded(gzip.compress(b"x" * MAX_REQUEST_BYTES), MAX_REQUEST_BYTES)) == (
        MAX_REQUEST_BYTES
    )
    with pytest.raises(PayloadTooLarge):
        parsing.gunzip_bounded(gzip.compress(b"x" * (MAX_REQUEST_BYTES + 1)), MAX_REQUEST_BYTES)
    with pytest.raises(PayloadTooLarge):
        parsing.decompress(b"x" * (MAX_REQUEST_BYTES + 1), None)


def test_broken_and_truncated_gzip_are_bad_requests() -> None:
    with pytest.raises(BadRequest, match="not valid gzip"):
        parsing.decompress(b"not gzip at all", "gzip")
    with pytest.raises(BadRequest, match="end-of-stream"):
        parsing.decompress(gzip.compress(b'{"a": 1}')[:-6], "gzip")


def test_unknown_content_encoding_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType, match="br"):
        parsing.decompress(b"{}", "br")


def test_bad_json_says_where_it_broke() -> None:
    with pytest.raises(BadRequest, match=r"Expecting .,. delimiter at line 2, column 15"):
        parsing.parse_json_object(b'{"type": "track",\n "event": "x" "userId": 1}')


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "not a JSON array"),
        (b'"text"', "not a JSON string"),
        (b"null", "not a JSON null"),
        (b"", "empty"),
        (b'{"a": "\xff"}', "UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_bad_requests(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parsing.parse_json_object(body)


def test_write_key_from_basic_auth_username() -> None:
    header = "Basic " + base64.b64encode(b"key-from-header:").decode()
    assert parsing.write_key(header, {"writeKey": "key-from-body"}) == "key-from-header"


def test_write_key_from_body() -> None:
    assert parsing.write_key(None, {"writeKey": "key-from-body"}) == "key-from-body"


@pytest.mark.parametrize(
    ("authorization", "payload", "message"),
    [
        (None, {}, "No write key"),
        (None, {"writeKey": ""}, "No write key"),
        (None, {"writeKey": 12345678}, "No write key"),
        ("Bearer abc", {}, "must use Basic"),
        ("Basic ***", {}, "not valid Basic"),
        ("Basic " + base64.b64encode(b":").decode(), {}, "No write key"),
    ],
)
def test_missing_or_malformed_write_key_is_unauthorized(
    authorization: str | None, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(Unauthorized, match=message):
        parsing.write_key(authorization, payload)


def test_single_event_path_sets_type_only_when_the_body_lacks_it() -> None:
    assert parsing.expand({"event": "E"}, "track") == [{"event": "E", "type": "track"}]
    assert parsing.expand({"type": "page"}, "track") == [{"type": "page"}]


def test_batch_context_and_integrations_merge_into_each_event_whose_own_keys_win() -> None:
    payload = {
        "writeKey": "k",
        "sentAt": "2026-11-23T12:00:00Z",
        "context": {"library": {"name": "analytics-python", "version": "2"}, "ip": "1.2.3.4"},
        "integrations": {"All": True},
        "batch": [
            {"type": "track", "context": {"library": {"version": "3"}, "locale": "de"}},
            {"type": "page", "sentAt": "2026-11-23T11:00:00Z", "integrations": {"All": False}},
        ],
    }
    first, second = parsing.expand(payload, "batch")
    assert first["context"] == {
        "library": {"name": "analytics-python", "version": "3"},
        "ip": "1.2.3.4",
        "locale": "de",
    }
    assert first["integrations"] == {"All": True}
    assert first["sentAt"] == "2026-11-23T12:00:00Z"
    assert second["context"] == payload["context"]
    assert second["integrations"] == {"All": False}
    assert second["sentAt"] == "2026-11-23T11:00:00Z"
    assert "writeKey" not in first


def test_batch_merge_does_not_share_nested_objects_between_events() -> None:
    first, second = parsing.expand(
        {"context": {"page": {"url": "u"}}, "batch": [{"context": {"page": {"title": "t"}}}, {}]}, "batch"
    )
    assert first["context"]["page"] == {"url": "u", "title": "t"}
    assert second["context"]["page"] == {"url": "u"}


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        ({}, BadRequest, "needs `batch`"),
        ({"batch": {"type": "track"}}, BadRequest, "needs `batch`"),
        ({"batch": []}, BadRequest, "empty"),
        ({"batch": [{}] * (MAX_BATCH_EVENTS + 1)}, PayloadTooLarge, f"limit is {MAX_BATCH_EVENTS}"),
    ],
)
def test_malformed_or_oversized_batches_are_refused(
    payload: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parsing.expand(payload, "batch")


def test_a_batch_of_exactly_the_limit_is_expanded() -> None:
    assert len(parsing.expand({"batch": [{}] * MAX_BATCH_EVENTS}, "batch")) == MAX_BATCH_EVENTS


def test_nesting_depth() -> None:
    assert parsing.nesting_depth("x") == 0
    assert parsing.nesting_depth({}) == 1
    assert parsing.nesting_depth({"a": [1, {"b": []}], "c": {}}) == 4


def _track(**fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Clicked", "anonymousId": "anon-1", **fields}


def test_an_event_over_32_kb_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge, match=f"limit is {MAX_EVENT_BYTES}"):
        logic.validate(_track(properties={"blob": "x" * MAX_EVENT_BYTES}))


def test_an_event_nested_too_deeply_is_refused() -> None:
    deep: Any = "leaf"
    for _ in range(parsing.MAX_NESTING_DEPTH):
        deep = [deep]
    with pytest.raises(InvalidInput, match="deeper than"):
        logic.validate(_track(properties={"deep": deep}))


@pytest.mark.parametrize("junk", ["undefined", "null", "[object Object]", "0", ""])
def test_junk_ids_are_refused_with_the_field_named(junk: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        logic.validate(_track(anonymousId=junk, userId="user-1"))
    assert [error["field"] for error in caught.value.errors] == ["anonymousId"]


def test_batch_keeps_valid_events_and_reports_each_invalid_one_by_index() -> None:
    raws = [_track(messageId="ok-1"), _track(anonymousId="null", messageId="bad-1"), "junk", _track()]
    events, rejected = logic.accept_all(raws, "src-1", datetime.now(UTC))
    assert [event.message_id[:4] for event in events] == ["ok-1", "srv-"]  # srv-: assigned, none was sent
    assert [(r.index, r.message_id) for r in rejected] == [(1, "bad-1"), (2, None)]
    assert rejected[0].errors[0]["field"] == "anonymousId"


def test_batch_with_no_valid_event_is_invalid_naming_each_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        logic.accept_all(
            [_track(anonymousId="undefined"), {"type": "track", "anonymousId": "a"}],
            "src-1",
            datetime.now(UTC),
        )
    fields = [error["field"] for error in caught.value.errors]
    assert fields == ["batch.0.anonymousId", "batch.1"]

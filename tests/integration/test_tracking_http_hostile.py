"""Hostile input through the Lambda handler, on moto: what cannot be kept as sent is refused with a 4xx
problem naming what to fix; a batch still stores the events it can keep; nothing is a 5xx."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from typing import Any

import pytest

from leadstream.events import TrackedEvent
from leadstream_local.inprocess import Call, Reply

StoredEvents = Callable[[], list[TrackedEvent]]

WRITE_KEY = "test-write-key-0001"  # the `source` fixture's
BASIC_AUTH = ("authorization", "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode())
JSON = ("content-type", "application/json")
VALID = b'{"type": "track", "event": "Kept", "anonymousId": "a-1", "messageId": "m-ok"}'


@pytest.fixture
def call(source: Any, call_api: Call) -> Call:
    from tracking.sources import Form
    from tracking.store.sources import put_form

    put_form(Form(form_id="demo", source_id=source.source_id, name="Book a demo"))
    return call_api


def post(call: Call, path: str, body: bytes, *headers: tuple[str, str]) -> Reply:
    return call("POST", path, headers=[BASIC_AUTH, *(headers or [JSON])], body=body)


def problem(reply: Reply, status: int) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = reply.json()
    assert body["status"] == status
    return body


def fields(reply: Reply, status: int = 422) -> list[str]:
    return [error["field"] for error in problem(reply, status)["errors"]]


def batch(*events: bytes) -> bytes:
    return b'{"batch": [' + b", ".join(events) + b"]}"


# Each: an event (JSON text) holding something that cannot be kept as sent, and the field it is in.
UNKEEPABLE: dict[str, tuple[bytes, str]] = {
    "lone surrogate in the event name": (
        b'{"type": "track", "event": "E\\ud800", "anonymousId": "a"}',
        "event",
    ),
    "lone surrogate in a nested key": (
        b'{"type": "identify", "userId": "u", "traits": {"address": {"c\\udc00ty": "x"}}}',
        "traits.address.c\\udc00ty",
    ),
    "lone surrogate in context": (
        b'{"type": "page", "anonymousId": "a", "context": {"page": {"title": ["ok", "\\udbff"]}}}',
        "context.page.title.1",
    ),
    "1e999": (
        b'{"type": "track", "event": "E", "anonymousId": "a", "properties": {"v": 1e999}}',
        "properties.v",
    ),
    "-1e999": (
        b'{"type": "track", "event": "E", "anonymousId": "a", "properties": {"v": -1e999}}',
        "properties.v",
    ),
    "NaN": (b'{"type": "track", "event": "E", "anonymousId": "a", "properties": {"v": NaN}}', "properties.v"),
    "Infinity": (b'{"type": "identify", "userId": "u", "traits": {"v": Infinity}}', "traits.v"),
    "39 digits": (
        b'{"type": "track", "event": "E", "anonymousId": "a",'
        b' "properties": {"v": 123456789012345678901234567890123456789}}',
        "properties.v",
    ),
    "beyond a double": (
        b'{"type": "track", "event": "E", "anonymousId": "a", "properties": {"v": 0.10000000000000000001}}',
        "properties.v",
    ),
    "a name given twice": (b'{"type": "track", "event": "E", "event": "F", "anonymousId": "a"}', "event"),
    "a clock that overflows": (
        b'{"type": "track", "event": "E", "anonymousId": "a",'
        b' "timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T23:59:59Z"}',
        "timestamp",
    ),
    "a time outside UTC": (
        b'{"type": "track", "event": "E", "anonymousId": "a",'
        b' "originalTimestamp": "0001-01-01T00:00:00+01:00"}',
        "originalTimestamp",
    ),
}


@pytest.mark.parametrize("case", sorted(UNKEEPABLE))
def test_a_single_event_that_cannot_be_kept_is_422_naming_the_field(
    call: Call, stored_events: StoredEvents, case: str
) -> None:
    event, field = UNKEEPABLE[case]
    assert fields(post(call, "/v1/track", event)) == [field]
    assert stored_events() == []


@pytest.mark.parametrize("case", sorted(UNKEEPABLE))
def test_a_batch_stores_the_siblings_of_an_event_that_cannot_be_kept(
    call: Call, stored_events: StoredEvents, case: str
) -> None:
    event, field = UNKEEPABLE[case]
    reply = post(call, "/v1/batch", batch(VALID, event))
    assert reply.status == 200, reply.body
    (rejected,) = reply.json()["rejected"]
    assert (rejected["index"], [error["field"] for error in rejected["errors"]]) == (1, [field])
    assert [(stored.message_id, stored.event) for stored in stored_events()] == [("m-ok", "Kept")]


def test_a_batch_whose_every_event_cannot_be_kept_is_422_naming_each(
    call: Call, stored_events: StoredEvents
) -> None:
    events = [UNKEEPABLE["1e999"][0], UNKEEPABLE["lone surrogate in the event name"][0]]
    assert fields(post(call, "/v1/b", batch(*events))) == ["batch.0.properties.v", "batch.1.event"]
    assert stored_events() == []


def test_a_surrogate_in_what_a_batch_shares_is_422_naming_it(call: Call, stored_events: StoredEvents) -> None:
    body = b'{"batch": [' + VALID + b'], "context": {"library": {"name": "\\ud800"}}}'
    assert fields(post(call, "/v1/batch", body)) == ["context.library.name"]
    assert stored_events() == []


# --- bytes that are not UTF-8, on every body path ------------------------------------------------------

NOT_UTF8 = b'{"type": "track", "event": "caf\xe9", "anonymousId": "a"}'


@pytest.mark.parametrize(
    "headers",
    [
        [JSON],
        [("content-type", "text/plain;charset=UTF-8")],
        [("content-type", "text/plain")],
        [],  # no content type: read as JSON
    ],
    ids=["json", "text-plain-utf8", "text-plain", "none"],
)
def test_a_body_that_is_not_utf8_is_400(call: Call, stored_events: StoredEvents, headers: Any) -> None:
    reply = call("POST", "/v1/track", headers=[BASIC_AUTH, *headers], body=NOT_UTF8)
    assert "not valid UTF-8: byte 0xe9" in problem(reply, 400)["detail"]
    assert stored_events() == []


def test_a_gzipped_body_that_is_not_utf8_is_400(call: Call, stored_events: StoredEvents) -> None:
    reply = post(call, "/v1/batch", gzip.compress(batch(VALID, NOT_UTF8)), JSON, ("content-encoding", "gzip"))
    assert "not valid UTF-8" in problem(reply, 400)["detail"]
    assert stored_events() == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        (b"email=ada%40example.com&name=Ren%E9", "application/x-www-form-urlencoded", 400, "'name'"),
        (b"email=ada%40example.com&name=Ren\xe9", "application/x-www-form-urlencoded", 400, "byte 0xe9"),
        (
            b'--XX\r\nContent-Disposition: form-data; name="email"\r\n\r\nada@example.com\r\n'
            b'--XX\r\nContent-Disposition: form-data; name="name"\r\n\r\nRen\xe9\r\n--XX--\r\n',
            "multipart/form-data; boundary=XX",
            400,
            "'name'",
        ),
        (
            b'--XX\r\nContent-Disposition: form-data; name="email"\r\n'
            b"Content-Type: text/plain; charset=x-klingon\r\n\r\nada@example.com\r\n--XX--\r\n",
            "multipart/form-data; boundary=XX",
            415,
            "x-klingon",
        ),
        (b'{"email": "ada@example.com", "name": "Ren\\udce9"}', "application/json", 422, "cannot be kept"),
        (
            b'{"email": "ada@example.com", "email": "eve@example.com"}',
            "application/json",
            422,
            "cannot be kept",
        ),
    ],
    ids=[
        "urlencoded-escape",
        "urlencoded-byte",
        "multipart",
        "multipart-charset",
        "json-surrogate",
        "json-twice",
    ],
)
def test_a_form_post_that_is_not_utf8_text_is_refused(
    call: Call, stored_events: StoredEvents, body: bytes, content_type: str, status: int, detail: str
) -> None:
    reply = call("POST", "/forms/demo", headers=[("content-type", content_type)], body=body)
    assert detail in problem(reply, status)["detail"]
    assert stored_events() == []


def test_the_same_forms_in_utf8_are_stored_as_sent(call: Call, stored_events: StoredEvents) -> None:
    body = "email=ada%40example.com&name=Ren%C3%A9&city=Zürich".encode()
    reply = call(
        "POST", "/forms/demo", headers=[("content-type", "application/x-www-form-urlencoded")], body=body
    )
    assert reply.status == 200, reply.body
    (event,) = stored_events()
    assert event.properties["fields"] == {"email": "ada@example.com", "name": "René", "city": "Zürich"}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (f"writeKey={WRITE_KEY}&anonymousId=a&event=Opened&subject=Gr%C3%BC%C3%9Fe", 200),
        (f"writeKey={WRITE_KEY}&anonymousId=a&event=Opened&subject=Gr%FC%DFe", 400),
        (f"writeKey={WRITE_KEY}&anonymousId=a%ED%A0%80&event=Opened", 400),
    ],
)
def test_the_pixel_query_must_be_utf8(
    call: Call, stored_events: StoredEvents, query: str, status: int
) -> None:
    reply = call("GET", "/pixel/v1/track", query=query)
    if status == 200:
        assert (reply.status, reply.headers["content-type"]) == (200, "image/gif")
        assert [event.properties for event in stored_events()] == [{"subject": "Grüße"}]
    else:
        assert "percent-escapes do not decode to UTF-8" in problem(reply, status)["detail"]
        assert stored_events() == []


# --- the class around them -------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 1_000, 9_000, 100_000])
def test_deep_nesting_is_a_4xx_at_any_depth(call: Call, stored_events: StoredEvents, depth: int) -> None:
    deep = b"[" * depth + b"]" * depth if depth > 9_000 else b'{"d": ' * depth + b"1" + b"}" * depth
    event = b'{"type": "track", "event": "E", "anonymousId": "a", "context": ' + deep + b"}"
    single = post(call, "/v1/track", event)
    assert 400 <= single.status < 500, single.body
    in_batch = post(call, "/v1/batch", batch(VALID, event))
    assert 400 <= in_batch.status < 500 or in_batch.json()["rejected"][0]["index"] == 1, in_batch.body
    # The batch's context is merged into the item's, object by object: both deep must not recurse away.
    shared_too = post(call, "/v1/batch", batch(VALID, event)[:-1] + b', "context": ' + deep + b"}")
    assert 400 <= shared_too.status < 500, shared_too.body
    assert {event.message_id for event in stored_events()} <= {"m-ok"}


def test_long_strings_and_huge_arrays_are_refused_by_size(call: Call, stored_events: StoredEvents) -> None:
    long_key = (
        b'{"type": "track", "event": "E", "anonymousId": "a", "properties": {"' + b"k" * 40_000 + b'": 1}}'
    )
    assert problem(post(call, "/v1/track", long_key), 413)["errors"][0]["message"].startswith("the event is")
    huge_array = (
        b'{"type": "track", "event": "E", "anonymousId": "a", "properties": {"a": [' + b"0," * 100_000
    )
    huge_array += b"0]}}"
    reply = post(call, "/v1/batch", batch(VALID, huge_array))
    assert (reply.status, reply.json()["rejected"][0]["index"]) == (200, 1)
    emoji_id = (
        '{"type": "track", "event": "E", "anonymousId": "' + "\N{GRINNING FACE}" * 512 + '"}'
    ).encode()
    assert fields(post(call, "/v1/track", emoji_id)) == ["anonymousId"]
    assert [event.message_id for event in stored_events()] == ["m-ok"]

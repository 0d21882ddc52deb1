"""Hostile input, one layer at a time: bytes, JSON values, event times, form encodings. Whatever cannot be
kept exactly as sent is refused with the field named; nothing is silently replaced, nothing raises."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from leadstream.errors import BadRequest, InvalidInput, Unauthorized, UnsupportedMediaType
from leadstream.events import EARLIEST_EVENT_TIME, MAX_ID_BYTES, TrackedEvent
from leadstream.numbers import fits_dynamodb
from leadstream.profiles import storable
from tracking import forms, logic, parsing

RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _event(**fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Clicked", "anonymousId": "anon-1", **fields}


def _event_json(fragment: str) -> bytes:
    """A track event whose `properties` is the JSON text `fragment`, exactly as written."""
    return (
        '{"type": "track", "event": "Clicked", "anonymousId": "a", "properties": ' + fragment + "}"
    ).encode()


def _refusal(raw: Any) -> list[dict[str, Any]]:
    with pytest.raises(InvalidInput) as caught:
        logic.accept(raw, "src-1", RECEIVED)
    return caught.value.errors


def _fields(raw: Any) -> list[str]:
    return [error["field"] for error in _refusal(raw)]


# --- numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "0",
        "-0",
        "0.1",
        "-0.0",
        "9.99",
        "1e2",
        "1E-130",
        "1.5e125",
        "0.30000000000000004",  # what JavaScript writes for 0.1 + 0.2: its double, exactly
        "123456789012345678901234567890",
        "99999999999999999999999999999999999999",  # 38 digits
        "-99999999999999999999999999999999999999",
        "1" + "0" * 125,  # 1e125 as an integer: one significant digit
    ],
)
def test_numbers_a_double_or_dynamodb_holds_exactly_are_kept(number: str) -> None:
    (event,) = [logic.accept(raw, "src-1", RECEIVED) for raw in [_parse(_event_json(f'{{"n": {number}}}'))]]
    kept = event.properties["n"]
    assert Decimal(repr(kept) if isinstance(kept, float) else kept) == Decimal(number)
    stored = TrackedEvent.model_validate_json(event.model_dump_json())
    assert stored.properties == event.properties


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("1e999", "cannot be stored as sent"),
        ("-1e999", "cannot be stored as sent"),
        ("1e126", "cannot be stored as sent"),
        ("1e-131", "cannot be stored as sent"),
        ("5e-324", "cannot be stored as sent"),
        ("1e-400", "cannot be stored as sent"),
        ("123456789012345678901234567890123456789", "cannot be stored as sent"),  # 39 digits
        ("1" * 5000, "cannot be stored as sent"),  # beyond Python's own int() limit
        ("1" + "0" * 126, "cannot be stored as sent"),
        ("0.1000000000000000055511151231257827", "is not exactly a double: as one it is 0.1"),
        ("9007199254740993.0", "is not exactly a double"),
        ("NaN", "NaN is not a JSON number"),
        ("Infinity", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
    ],
)
def test_numbers_that_cannot_be_kept_as_sent_refuse_their_event_naming_the_field(
    number: str, why: str
) -> None:
    (error,) = _refusal(_parse(_event_json(f'{{"a": {{"n": [1, {number}]}}}}')))
    assert error["field"] == "properties.a.n.1"
    assert why in error["message"]


def test_dynamodb_number_limits_count_every_digit() -> None:
    # Decimal.normalize() rounds to 28 digits, which once let 40-digit numbers pass as storable.
    assert fits_dynamodb(Decimal(10**37 + 1))
    assert not fits_dynamodb(Decimal(10**39 + 1))
    assert fits_dynamodb(Decimal(10**40))
    assert storable(10**40 + 1) == str(10**40 + 1)  # a profile keeps it as text rather than fail


# --- names and strings --------------------------------------------------------------------------------


def test_a_name_given_twice_refuses_the_event_at_any_depth() -> None:
    body = _event_json('{"plan": "a", "nested": {"x": 1, "x": 2, "x": 3}, "plan": "b"}')
    errors = _refusal(_parse(body))
    assert [error["field"] for error in errors] == ["properties.plan", "properties.nested.x"]
    assert "given 3 times" in errors[1]["message"]


def test_names_that_look_like_numbers_or_are_empty_are_kept_as_names() -> None:
    event = logic.accept(_parse(_event_json('{"1": "a", "01": "b", "-1e5": "c", "": "d"}')), "s", RECEIVED)
    assert event.properties == {"1": "a", "01": "b", "-1e5": "c", "": "d"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"type": "track", "event": "E\\ud800", "anonymousId": "a"}', "event"),
        ('{"type": "track", "event": "E", "anonymousId": "a\\udfff"}', "anonymousId"),
        (
            '{"type": "track", "event": "E", "anonymousId": "a", "properties": {"k": ["ok", "\\udc00"]}}',
            "properties.k.1",
        ),
        ('{"type": "identify", "userId": "u", "traits": {"n\\ud800me": 1}}', "traits.n\\ud800me"),
        (
            '{"type": "page", "anonymousId": "a", "context": {"page": {"title": "\\ude00x"}}}',
            "context.page.title",
        ),
        ('{"type": "page", "anonymousId": "a", "unknownField": "\\ud83d"}', "unknownField"),
        ('{"type": "page", "anonymousId": "a", "writeKey": "k\\ud800"}', "writeKey"),
    ],
)
def test_a_lone_surrogate_anywhere_refuses_the_event_naming_the_field(body: str, field: str) -> None:
    (error,) = _refusal(_parse(body.encode()))
    assert error["field"] == field
    assert "lone surrogate" in error["message"]
    json.dumps(error).encode()  # the answer itself can be sent: the name is shown as its escape


def test_a_surrogate_pair_is_one_character_and_is_kept() -> None:
    event = logic.accept(
        _parse(b'{"type": "track", "event": "\\ud83d\\ude00", "anonymousId": "a"}'), "s", RECEIVED
    )
    assert event.event == "\N{GRINNING FACE}"


def test_errors_are_listed_in_document_order_and_capped() -> None:
    bad = {f"k{i}": "\ud800" for i in range(50)}
    errors = _refusal(_event(properties=bad))
    assert [error["field"] for error in errors] == [
        f"properties.k{i}" for i in range(parsing.MAX_CONTENT_ERRORS)
    ]


def test_ids_must_fit_a_dynamodb_key() -> None:
    emoji_id = "\N{GRINNING FACE}" * 512  # 512 characters, 2,048 bytes
    assert _fields(_event(anonymousId=emoji_id)) == ["anonymousId"]
    fits = "\N{GRINNING FACE}" * (MAX_ID_BYTES // 4)
    assert logic.accept(_event(userId=fits), "s", RECEIVED).user_id == fits


# --- bytes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"event": "caf\xe9"}',  # Latin-1
        b'{"event": "\xed\xa0\x80"}',  # a surrogate encoded as if it were a character (CESU-8)
        b'{"event": "\xc0\xaf"}',  # an overlong encoding of "/"
        b'{"event": "x"}\xff',
        b'\xef\xbb\xbf{"event": "\xff"}',  # a BOM does not make the rest UTF-8
    ],
)
def test_a_body_that_is_not_utf8_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid UTF-8: byte 0x"):
        parsing.read_json_body(body, "application/json", None)
    with pytest.raises(BadRequest, match="not valid UTF-8"):
        parsing.read_json_body(gzip.compress(body), "text/plain", "gzip")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32-le"])
def test_unicode_bodies_json_recognises_are_read_as_before(encoding: str) -> None:
    assert parsing.parse_json_object('{"event": "café"}'.encode(encoding)) == {"event": "café"}


# --- batches ------------------------------------------------------------------------------------------


def test_a_batch_keeps_the_siblings_of_an_event_it_cannot_keep() -> None:
    body = (
        b'{"batch": [{"type": "track", "event": "ok", "anonymousId": "a", "messageId": "m-0"},'
        b' {"type": "track", "event": "E\\ud800", "anonymousId": "a", "messageId": "m-1"},'
        b' {"type": "track", "event": "n", "anonymousId": "a", "properties": {"v": 1e999}},'
        b' {"type": "track", "event": "t", "anonymousId": "a",'
        b'  "timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T23:59:59Z"}]}'
    )
    events, rejected = logic.accept_all(parsing.expand(_parse(body), "batch"), "s", RECEIVED)
    assert [event.message_id for event in events] == ["m-0"]
    assert [(r.index, r.message_id, [e["field"] for e in r.errors]) for r in rejected] == [
        (1, "m-1", ["event"]),
        (2, None, ["properties.v"]),
        (3, None, ["timestamp"]),
    ]


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        ('"context": {"library": {"name": "\\udbff"}}', "context.library.name"),
        ('"integrations": {"All": true, "All": false}', "integrations.All"),
        ('"sentAt": NaN', "sentAt"),
        ('"context": ' + "[" * 64 + "]" * 64, "context"),
    ],
)
def test_what_a_batch_shares_with_every_event_is_refused_once_naming_the_field(
    envelope: str, field: str
) -> None:
    body = '{"batch": [{"type": "track", "event": "ok", "anonymousId": "a"}], ' + envelope + "}"
    with pytest.raises(InvalidInput) as caught:
        parsing.expand(_parse(body.encode()), "batch")
    assert [error["field"] for error in caught.value.errors] == [field]


def test_deep_contexts_in_a_batch_are_refused_without_recursing() -> None:
    deep_context = '{"a": ' * 3000 + "1" + "}" * 3000
    item = '{"type": "track", "event": "x", "anonymousId": "a", "context": ' + deep_context + "}"
    with pytest.raises(InvalidInput, match="shared fields"):
        parsing.expand(
            _parse(('{"batch": [' + item + '], "context": ' + deep_context + "}").encode()), "batch"
        )
    with pytest.raises(InvalidInput, match="No event in the batch is valid"):
        logic.accept_all(
            parsing.expand(_parse(('{"batch": [' + item + "]}").encode()), "batch"), "s", RECEIVED
        )


@pytest.mark.parametrize("batch", ['"batch": [], "batch": [{}]', '"batch": [{"type": "track"}], "batch": []'])
def test_a_batch_given_twice_is_a_bad_request(batch: str) -> None:
    with pytest.raises(BadRequest, match="given 2 times"):
        parsing.expand(_parse(("{" + batch + "}").encode()), "batch")


def test_a_write_key_given_twice_says_so() -> None:
    with pytest.raises(Unauthorized, match="given 2 times"):
        parsing.write_key(None, _parse(b'{"writeKey": "a", "writeKey": "b"}'))


# --- event times --------------------------------------------------------------------------------------

TIMES = [
    None,
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # the year 0 in UTC
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:05Z",
    "2026-11-23T11:59:00Z",
    "2026-11-23T12:30:00Z",  # in our future
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-01:00",  # the year 10000 in UTC
    -62135596800,  # 0001-01-01 as a Unix time
]
TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt")


@pytest.mark.parametrize("timestamp", TIMES)
@pytest.mark.parametrize("original", TIMES[:3] + TIMES[7:9])
@pytest.mark.parametrize("sent_at", TIMES)
def test_any_combination_of_extreme_times_is_placed_or_refused_naming_a_time_field(
    timestamp: Any, original: Any, sent_at: Any
) -> None:
    sent = dict(zip(TIME_FIELDS, (timestamp, original, sent_at), strict=True))
    raw = _event(receivedAt="9999-12-31T23:59:59Z", **{name: value for name, value in sent.items() if value})
    event = _accepted_or_errors(raw)
    if isinstance(event, list):
        assert {error["field"] for error in event} <= set(TIME_FIELDS)
        return
    assert EARLIEST_EVENT_TIME <= event.timestamp <= RECEIVED
    assert event.received_at == RECEIVED  # a receivedAt in the body is the client's, kept as unknown field
    assert event.extra["receivedAt"] == "9999-12-31T23:59:59Z"
    event.to_item({"pk": "p", "sk": "s"}, ttl_epoch=0)
    TrackedEvent.model_validate_json(event.model_dump_json())


def _accepted_or_errors(raw: dict[str, Any]) -> TrackedEvent | list[dict[str, Any]]:
    try:
        return logic.accept(raw, "src-1", RECEIVED)
    except InvalidInput as refused:
        return refused.errors


def test_the_reported_overflow_is_refused_naming_the_timestamp() -> None:
    raw = _event(timestamp="0001-01-01T00:00:00Z", sentAt="9999-12-31T23:59:59Z")
    (error,) = _refusal(raw)
    assert error["field"] == "timestamp"
    assert "before 1970-01-01" in error["message"]


def test_a_device_clock_that_was_never_set_is_corrected_by_sent_at() -> None:
    raw = _event(originalTimestamp="1970-01-01T00:00:05Z", sentAt="1970-01-01T00:00:07Z")
    assert logic.accept(raw, "s", RECEIVED).timestamp == RECEIVED - timedelta(seconds=2)
    (error,) = _refusal(_event(timestamp="1969-07-20T20:17:40Z"))
    assert (error["field"], "sentAt too" in error["message"]) == ("timestamp", True)


def test_a_time_outside_utc_names_its_field() -> None:
    assert _fields(_event(sentAt="0001-01-01T00:00:00+01:00")) == ["sentAt"]
    assert _fields(_event(originalTimestamp="9999-12-31T23:59:59-01:00")) == ["originalTimestamp"]


# --- forms and the pixel query ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"email=ada%40example.com&name=%FF", "name"),
        (b"email=ada%40example.com&caf%E9=1", "caf\\udce9"),
        (b"email=ada%40example.com&name=%ED%A0%80", "name"),
    ],
)
def test_urlencoded_percent_escapes_must_decode_to_utf8(body: bytes, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        forms.read_fields(body, forms.URLENCODED)
    assert [error["field"] for error in caught.value.errors] == [field]


def test_urlencoded_bytes_must_be_utf8_and_utf8_is_read() -> None:
    with pytest.raises(BadRequest, match="byte 0xe9 at offset 8"):
        forms.read_fields(b"name=Ren\xe9", forms.URLENCODED)
    fields = forms.read_fields("name=René&pr%C3%A9nom=Zo%C3%AB&c=1&c=2".encode(), forms.URLENCODED)
    assert fields == {"name": "René", "prénom": "Zoë", "c": ["1", "2"]}


def _multipart(*parts: bytes) -> bytes:
    return b"".join(b"--XX\r\n" + part + b"\r\n" for part in parts) + b"--XX--\r\n"


MULTIPART = "multipart/form-data; boundary=XX"


def test_multipart_names_and_values_in_utf8_are_read() -> None:
    body = _multipart(
        'Content-Disposition: form-data; name="prénom"\r\n\r\nZoë'.encode(),
        b"Content-Disposition: form-data; name*=utf-8''na%C3%AFve\r\n\r\nyes",
        b'Content-Disposition: form-data; name="old"\r\n'
        b"Content-Type: text/plain; charset=latin-1\r\n\r\n\xe9t\xe9",
    )
    assert forms.read_fields(body, MULTIPART) == {"prénom": "Zoë", "naïve": "yes", "old": "été"}


@pytest.mark.parametrize(
    ("part", "error", "message"),
    [
        (b'Content-Disposition: form-data; name="v"\r\n\r\n\xff\xfe', BadRequest, "not valid utf-8"),
        (
            b'Content-Disposition: form-data; name="a\xffb"\r\n\r\nv',
            BadRequest,
            "field name is not valid UTF-8",
        ),
        (b"Content-Disposition: form-data; name*=utf-8''%FF\r\n\r\nv", BadRequest, "field name"),
        (
            b'Content-Disposition: form-data; name="v"\r\nContent-Type: text/plain; charset=bogus\r\n\r\nx',
            UnsupportedMediaType,
            "charset 'bogus'",
        ),
    ],
)
def test_multipart_that_is_not_text_in_its_charset_is_refused(
    part: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        forms.read_fields(_multipart(part), MULTIPART)


def test_a_json_form_post_is_checked_like_an_event() -> None:
    fields = forms.read_fields(
        b'{"email": "ada@example.com", "n": 1e999, "n2": 1, "n2": 2}', "application/json"
    )
    assert [error["field"] for error in parsing.content_errors(fields)] == ["n", "n2"]


@pytest.mark.parametrize(
    ("query", "accepted"),
    [
        ("writeKey=k&anonymousId=a&event=Opened&campaign=%E2%82%AC", True),
        ("writeKey=k&anonymousId=a&event=Opened&campaign=%E2%82", False),
        ("writeKey=k&anonymousId=a&event=Opened&%FF=1", False),
    ],
)
def test_the_pixel_query_must_decode_to_utf8(query: str, accepted: bool) -> None:
    if accepted:
        assert dict(parsing.decode_query(query, max_fields=10))["campaign"] == "€"
    else:
        with pytest.raises(BadRequest, match="percent-escapes do not decode to UTF-8"):
            parsing.decode_query(query, max_fields=10)


def _parse(body: bytes) -> dict[str, Any]:
    return parsing.parse_json_object(body)


def test_an_anonymous_id_cookie_too_large_for_a_key_gives_way_to_the_next_candidate() -> None:
    too_large = "\N{GRINNING FACE}" * 512  # 512 characters, but 2,048 bytes
    assert forms.anonymous_id([f"ajs_anonymous_id={too_large}"], {"anonymousId": "a-1"}) == "a-1"
    fits = "\N{GRINNING FACE}" * 500
    assert forms.anonymous_id([f"ajs_anonymous_id={fits}"], {"anonymousId": "a-1"}) == fits

"""Arbitrary JSON-ish bodies at /v1/track and /v1/batch, through the Lambda handler on moto: the answer is
never a 5xx, and an event that is answered as stored is stored exactly as it was sent.

Bodies are written as JSON text here, not by json.dumps, so that they can hold what a serializer would
never write: a name given twice, NaN, 1e999, 40-digit numbers, lone surrogate escapes, deep nesting.
Next to each piece of text the test keeps what was sent, read strictly: an object as its list of names
and values (so a name given twice stays visible), every number as its exact decimal value.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadstream.events import EARLIEST_EVENT_TIME, TrackedEvent
from leadstream_local.inprocess import Call

WRITE_KEY = "test-write-key-0001"  # the `source` fixture's
SOURCE_ID = "src-test"
HEADERS = [
    ("content-type", "application/json"),
    ("authorization", "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()),
]
NOT_KEEPABLE = object()  # sent, but no stored value can equal it (NaN, Infinity)
_message_numbers = itertools.count()  # unique across examples: they share one moto


@dataclass(frozen=True)
class Sent:
    text: str  # as it goes on the wire
    value: Any  # what it means: pairs for an object, Decimal or int for a number, NOT_KEEPABLE

    def __repr__(self) -> str:  # the value may nest thousands deep: too deep for a recursive repr
        return f"Sent({self.text[:300]!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis shows an example
        printer.text(repr(self))


def _string(text: str) -> Sent:
    written = json.dumps(text)  # a lone surrogate is written as its \\udXXX escape
    return Sent(written, json.loads(written))


def _number(token: str) -> Sent:
    exact = int(token) if token.lstrip("-").isdigit() and len(token) < 4000 else Decimal(token)
    return Sent(token, exact)


def _nested(depth: int) -> Sent:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return Sent("[" * depth + "]" * depth, value)


def _array(items: list[Sent]) -> Sent:
    return Sent("[" + ",".join(item.text for item in items) + "]", [item.value for item in items])


def _object(members: list[tuple[Sent, Sent]]) -> Sent:
    text = "{" + ",".join(f"{name.text}:{value.text}" for name, value in members) + "}"
    return Sent(text, tuple((name.value, value.value) for name, value in members))


NUMBERS = [
    "0", "-0", "0.1", "-0.0", "1e2", "1E-130", "1e-131", "1.5e125", "1e126", "1e999", "-1e999", "5e-324",
    "0.30000000000000004", "0.10000000000000000001", "9007199254740993", "9007199254740993.0",
    "99999999999999999999999999999999999999", "123456789012345678901234567890123456789", "1" * 5000,
]  # fmt: skip
NAMES = ["a", "b", "1", "01", "-1", "1e5", "", "\ud800", "n\udfffme", "\N{GRINNING FACE}", "k" * 300]
STRINGS = [
    "",
    "null",
    "\x00",
    "\ud800",
    "E\ud800",
    "\ud83d\ude00",
    "\N{GRINNING FACE}",
    "\ufffd",
    "x" * 40_000,
]
TIMES = [
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z",
    "2026-11-23T12:00:00Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59-01:00", "not a time",
]  # fmt: skip

# Mostly ordinary values, so that many events are stored and compared; a hostile one now and then.
ordinary_texts = st.text(st.characters(codec="utf-8"), max_size=6)
hostile_texts = st.text(st.characters(exclude_categories=()), max_size=6) | st.sampled_from(STRINGS)
texts = st.one_of(ordinary_texts, ordinary_texts, ordinary_texts, hostile_texts)
strings = texts.map(_string)
ordinary_numbers = st.integers(-(10**20), 10**20).map(str) | st.floats(-1e100, 1e100).map(repr)
hostile_numbers = st.sampled_from(NUMBERS) | st.floats(allow_nan=False, allow_infinity=False).map(repr)
not_numbers = st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(lambda token: Sent(token, NOT_KEEPABLE))
numbers = st.one_of(ordinary_numbers, ordinary_numbers, ordinary_numbers, hostile_numbers).map(_number)
literals = st.sampled_from([Sent("true", True), Sent("false", False), Sent("null", None)])
deep = st.sampled_from([1, 2, 61, 62, 63, 9_000, 20_000]).map(_nested)
leaves = st.one_of(strings, strings, strings, numbers, numbers, literals, literals, not_numbers, deep)
names = st.one_of(ordinary_texts, ordinary_texts, ordinary_texts, st.sampled_from(NAMES), hostile_texts).map(
    _string
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3).map(_array) | st.lists(st.tuples(names, inner), max_size=3).map(_object)
    ),
    max_leaves=6,
)
objects = st.lists(st.tuples(names, values), max_size=4).map(_object)
ordinary_times = st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
times = st.one_of(ordinary_times.map(datetime.isoformat), st.sampled_from(TIMES)).map(_string)


@dataclass(frozen=True)
class Event:
    message_id: str
    name: Sent
    properties: Sent
    context: Sent
    clock: tuple[tuple[str, Sent], ...]

    @property
    def text(self) -> str:
        clock = "".join(f',"{field}":{value.text}' for field, value in self.clock)
        return (
            f'{{"type":"track","messageId":"{self.message_id}","anonymousId":"a-1","event":{self.name.text},'
            f'"properties":{self.properties.text},"context":{self.context.text}{clock}}}'
        )


@st.composite
def events(draw: st.DrawFn) -> Event:
    clock = draw(st.lists(st.sampled_from(["timestamp", "originalTimestamp", "sentAt"]), unique=True))
    return Event(
        message_id=f"m-{next(_message_numbers)}",
        name=draw(st.one_of(st.just(_string("Clicked")), st.just(_string("Signed Up")), strings)),
        properties=draw(objects),
        context=draw(objects),
        clock=tuple((field, draw(times)) for field in clock),
    )


@pytest.fixture
def call(source: Any, call_api: Call) -> Call:
    return call_api


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=events())
def test_a_single_event_is_stored_exactly_as_sent_or_refused_with_a_4xx(call: Call, event: Event) -> None:
    reply = call("POST", "/v1/track", headers=HEADERS, body=event.text.encode())
    assert reply.status < 500, reply.body
    stored = _stored(event.message_id)
    if reply.status == 200:
        assert stored is not None
        assert _as_sent(stored, event), event.text[:2000]
    else:
        assert reply.headers["content-type"] == "application/problem+json"
        assert stored is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(events(), min_size=1, max_size=3))
def test_a_batch_stores_exactly_what_it_does_not_reject(call: Call, batch: list[Event]) -> None:
    sibling = Event(f"m-{next(_message_numbers)}", _string("Kept"), _object([]), _object([]), ())
    sent = [sibling, *batch]
    body = '{"batch":[' + ",".join(event.text for event in sent) + "]}"
    reply = call("POST", "/v1/batch", headers=HEADERS, body=body.encode())
    if reply.status in (400, 413):  # the body as a whole: too large, or nested beyond any JSON reading
        detail = reply.json()["detail"]
        assert reply.status == 413 or "nested too deeply" in detail, detail
        assert all(_stored(event.message_id) is None for event in sent)
        return
    assert reply.status == 200, reply.body  # the sibling is valid, so the batch is stored
    rejected = {rejection["index"] for rejection in reply.json().get("rejected", [])}
    assert 0 not in rejected
    for index, event in enumerate(sent):
        stored = _stored(event.message_id)
        if index in rejected:
            assert stored is None
        else:
            assert stored is not None
            assert _as_sent(stored, event), event.text[:2000]


def _stored(message_id: str) -> TrackedEvent | None:
    import boto3

    from leadstream import keys
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import deserialize

    item = (
        boto3.client("dynamodb")
        .get_item(TableName=get_settings().events_table, Key=_key(keys.event_key(SOURCE_ID, message_id)))
        .get("Item")
    )
    return TrackedEvent.from_item(deserialize(item)) if item else None


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {name: {"S": value} for name, value in key.items()}


def _as_sent(stored: TrackedEvent, event: Event) -> bool:
    return (
        _same(stored.event, event.name.value)
        and _same(stored.properties, event.properties.value)
        and _same(stored.context, event.context.value)
        and EARLIEST_EVENT_TIME <= stored.timestamp <= stored.received_at
    )


def _same(stored: Any, sent: Any) -> bool:
    """Whether a stored value is what was sent; iterative, as nesting may be deep."""
    pending = [(stored, sent)]
    while pending:
        have, want = pending.pop()
        if isinstance(want, tuple):  # an object, as its names and values
            if not isinstance(have, dict) or len(have) != len(want) or set(have) != {n for n, _ in want}:
                return False  # a name given twice cannot be stored as sent
            pending.extend((have[name], value) for name, value in want)
        elif isinstance(want, list):
            if not isinstance(have, list) or len(have) != len(want):
                return False
            pending.extend(zip(have, want, strict=True))
        elif isinstance(want, bool) or want is None or isinstance(want, str):
            if type(have) is not type(want) or have != want:
                return False
        elif want is NOT_KEEPABLE or not _same_number(have, want):
            return False
    return True


def _same_number(have: Any, want: int | Decimal) -> bool:
    if isinstance(have, bool) or not isinstance(have, int | float):
        return False
    return Decimal(repr(have)) == Decimal(want) if isinstance(have, float) else Decimal(have) == Decimal(want)

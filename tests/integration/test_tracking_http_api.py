"""The Segment HTTP Tracking API end to end through the Lambda handler, on moto.

Each test builds the API Gateway HTTP API event a client's request becomes, calls the handler, and
reads the events table to see what was stored.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadstream.events import MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_REQUEST_BYTES, TrackedEvent
from leadstream_local.inprocess import Call, Reply

StoredEvents = Callable[[], list[TrackedEvent]]


WRITE_KEY = "test-write-key-0001"  # the `source` fixture's
BASIC_AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
JSON = ("content-type", "application/json")


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The template route a path matches, and its path parameters."""
    for prefix, template, name in (
        ("/pixel/v1/", "/pixel/v1/{type}", "type"),
        ("/v1/", "/v1/{type}", "type"),
        ("/forms/", "/forms/{formId}", "formId"),
    ):
        if path.startswith(prefix):
            return f"{method} {template}", {name: path.removeprefix(prefix)}
    raise AssertionError(f"no route for {path}")


def post(call: Call, path: str, body: bytes | dict[str, Any], *headers: tuple[str, str]) -> Reply:
    return call("POST", path, headers=[JSON, ("authorization", BASIC_AUTH), *headers], body=body)


def assert_problem(reply: Reply, status: int, detail: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = reply.json()
    assert problem["status"] == status
    assert detail in problem["detail"]
    return problem


SINGLE_EVENTS: dict[str, dict[str, Any]] = {
    "identify": {"userId": "user-1", "traits": {"email": "ada@example.com"}},
    "track": {"anonymousId": "anon-1", "event": "Signed Up", "properties": {"plan": "pro"}},
    "page": {"anonymousId": "anon-1", "name": "Pricing"},
    "screen": {"anonymousId": "anon-1", "name": "Home"},
    "group": {"userId": "user-1", "groupId": "acme"},
    "alias": {"previousId": "anon-1", "userId": "user-1"},
}


@pytest.mark.parametrize("path_type", sorted(SINGLE_EVENTS))
@pytest.mark.parametrize("short", [False, True], ids=["long", "short"])
def test_every_single_event_path_stores_its_event(
    call: Call, path_type: str, short: bool, stored_events: StoredEvents
) -> None:
    path = f"/v1/{path_type[0] if short else path_type}"
    reply = post(call, path, {**SINGLE_EVENTS[path_type], "messageId": "m-1"})
    assert (reply.status, reply.json()) == (200, {"success": True})
    (event,) = stored_events()
    assert (event.type, event.message_id, event.source_id) == (path_type, "m-1", "src-test")


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/b"])
def test_batch_paths_store_every_event(call: Call, path: str, stored_events: StoredEvents) -> None:
    batch = [{"type": kind, "messageId": f"m-{kind}", **body} for kind, body in SINGLE_EVENTS.items()]
    reply = post(call, path, {"batch": batch, "context": {"library": {"name": "test"}}})
    assert (reply.status, reply.json()) == (200, {"success": True})
    events = {event.message_id: event for event in stored_events()}
    assert set(events) == {f"m-{kind}" for kind in SINGLE_EVENTS}
    assert all(event.context["library"] == {"name": "test"} for event in events.values())


def test_unknown_type_is_not_found(call: Call) -> None:
    assert_problem(post(call, "/v1/import", {"batch": []}), 404, "not a tracking endpoint")


def test_write_key_in_the_body(call: Call, stored_events: StoredEvents) -> None:
    body = {"writeKey": WRITE_KEY, **SINGLE_EVENTS["track"]}
    reply = call("POST", "/v1/track", headers=[JSON], body=body)
    assert reply.status == 200
    (event,) = stored_events()
    assert "writeKey" not in event.extra


def test_write_key_as_basic_auth_username(call: Call, stored_events: StoredEvents) -> None:
    reply = call("POST", "/v1/t", headers=[JSON, ("authorization", BASIC_AUTH)], body=SINGLE_EVENTS["track"])
    assert reply.status == 200
    assert len(stored_events()) == 1


@pytest.mark.parametrize(
    ("headers", "body", "detail"),
    [
        ([JSON], SINGLE_EVENTS["track"], "No write key"),
        ([JSON], {"writeKey": "no-such-key-000", **SINGLE_EVENTS["track"]}, "Unknown write key"),
        ([JSON], {"writeKey": "k" * 5000, **SINGLE_EVENTS["track"]}, "Unknown write key"),
        (
            [JSON, ("authorization", "Basic " + base64.b64encode(b"no-such-key-000:").decode())],
            SINGLE_EVENTS["track"],
            "Unknown write key",
        ),
        ([JSON, ("authorization", "Bearer x")], SINGLE_EVENTS["track"], "Basic auth"),
    ],
)
def test_missing_or_unknown_write_key_is_401(
    call: Call, headers: list[tuple[str, str]], body: dict[str, Any], detail: str, stored_events: StoredEvents
) -> None:
    assert_problem(call("POST", "/v1/track", headers=headers, body=body), 401, detail)
    assert stored_events() == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"event": "x",', "not valid JSON: Expecting property name enclosed in double quotes"),
        (b"[1, 2]", "must be a JSON object, not a JSON array"),
        (b"", "body is empty"),
    ],
)
def test_malformed_body_is_400(call: Call, body: bytes, detail: str) -> None:
    assert_problem(post(call, "/v1/track", body), 400, detail)


def test_form_encoded_body_is_415(call: Call) -> None:
    reply = call(
        "POST",
        "/v1/track",
        headers=[("content-type", "application/x-www-form-urlencoded")],
        body=b"writeKey=x&event=y",
    )
    assert_problem(reply, 415, "application/json or text/plain")


def test_request_over_500_kb_is_413(call: Call) -> None:
    filler = "x" * 1000
    batch = [{**SINGLE_EVENTS["track"], "properties": {"f": filler}} for _ in range(520)]
    assert len(json.dumps({"batch": batch})) > MAX_REQUEST_BYTES
    assert_problem(post(call, "/v1/batch", {"batch": batch}), 413, "send fewer events")


def test_gzip_bomb_is_413(call: Call) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * (20 * MAX_REQUEST_BYTES) + b"]}")
    assert_problem(post(call, "/v1/batch", bomb, ("content-encoding", "gzip")), 413, "after decompression")


def test_event_over_32_kb_is_413(call: Call) -> None:
    body = {**SINGLE_EVENTS["track"], "properties": {"blob": "x" * MAX_EVENT_BYTES}}
    problem = assert_problem(post(call, "/v1/track", body), 413, f"limit is {MAX_EVENT_BYTES}")
    assert problem["errors"][0]["field"] == "(event)"


def test_batch_over_2500_events_is_413(call: Call) -> None:
    batch: list[dict[str, Any]] = [{}] * (MAX_BATCH_EVENTS + 1)
    assert_problem(post(call, "/v1/batch", {"batch": batch}), 413, f"limit is {MAX_BATCH_EVENTS}")


def test_invalid_single_event_is_422_with_field_errors(call: Call, stored_events: StoredEvents) -> None:
    reply = post(call, "/v1/track", {"anonymousId": "undefined", "userId": "user-1", "event": "E"})
    problem = assert_problem(reply, 422, "not valid")
    assert [error["field"] for error in problem["errors"]] == ["anonymousId"]
    assert "usable id" in problem["errors"][0]["message"]
    assert stored_events() == []


def test_track_without_event_name_is_422(call: Call) -> None:
    problem = assert_problem(post(call, "/v1/track", {"anonymousId": "a"}), 422, "not valid")
    assert "event name" in problem["errors"][0]["message"]


def test_gzip_body_is_accepted(call: Call, stored_events: StoredEvents) -> None:
    batch = [{**SINGLE_EVENTS["track"], "type": "track", "messageId": f"m-{i}"} for i in range(30)]
    body = gzip.compress(json.dumps({"batch": batch}).encode())
    reply = post(call, "/v1/batch", body, ("content-encoding", "gzip"))
    assert reply.status == 200
    assert len(stored_events()) == 30


def test_batch_stores_the_valid_events_and_reports_the_rejected(
    call: Call, stored_events: StoredEvents
) -> None:
    batch = [
        {**SINGLE_EVENTS["track"], "type": "track", "messageId": "good-0"},
        {"type": "track", "anonymousId": "anon-1", "messageId": "bad-1"},  # no event name
        {**SINGLE_EVENTS["identify"], "type": "identify", "messageId": "good-2"},
        {"type": "identify", "userId": "null", "messageId": "bad-3"},
        {"type": "track", "event": "Big", "anonymousId": "a", "properties": {"x": "y" * MAX_EVENT_BYTES}},
    ]
    reply = post(call, "/v1/batch", {"batch": batch})
    assert reply.status == 200
    body = reply.json()
    assert body["success"] is True
    assert [(r["index"], r["messageId"]) for r in body["rejected"]] == [(1, "bad-1"), (3, "bad-3"), (4, None)]
    assert body["rejected"][1]["errors"][0]["field"] == "userId"
    assert sorted(event.message_id for event in stored_events()) == ["good-0", "good-2"]


def test_batch_with_no_valid_event_is_422_and_stores_nothing(call: Call, stored_events: StoredEvents) -> None:
    batch = [{"type": "track", "anonymousId": "a"}, {"type": "nope", "userId": "u"}]
    problem = assert_problem(post(call, "/v1/batch", {"batch": batch}), 422, "No event in the batch")
    assert [error["field"] for error in problem["errors"]] == ["batch.0", "batch.1.type"]
    assert stored_events() == []


def test_duplicate_message_id_is_stored_once(call: Call, stored_events: StoredEvents) -> None:
    event = {**SINGLE_EVENTS["track"], "messageId": "dup-1"}
    assert post(call, "/v1/track", event).status == 200
    assert post(call, "/v1/track", event).status == 200  # a client retry
    assert post(call, "/v1/batch", {"batch": [{**event, "type": "track"}] * 3}).status == 200
    assert [stored.message_id for stored in stored_events()] == ["dup-1"]


def test_received_at_is_stored_and_a_skewed_device_clock_is_corrected(
    call: Call, stored_events: StoredEvents
) -> None:
    device_now = datetime.now(UTC) + timedelta(hours=2)  # the device clock runs two hours fast
    body = {
        **SINGLE_EVENTS["track"],
        "timestamp": (device_now - timedelta(seconds=5)).isoformat(),
        "sentAt": device_now.isoformat(),
    }
    before = datetime.now(UTC)
    assert post(call, "/v1/track", body).status == 200
    after = datetime.now(UTC)
    (event,) = stored_events()
    assert before <= event.received_at <= after
    assert event.timestamp == event.received_at - timedelta(seconds=5)
    assert event.original_timestamp == device_now - timedelta(seconds=5)


def test_batch_sent_at_corrects_every_event(call: Call, stored_events: StoredEvents) -> None:
    device_now = datetime.now(UTC) - timedelta(days=1)  # a device clock a day behind
    batch = [
        {**SINGLE_EVENTS["track"], "type": "track", "timestamp": (device_now - lag).isoformat()}
        for lag in (timedelta(seconds=10), timedelta(seconds=20))
    ]
    assert post(call, "/v1/batch", {"batch": batch, "sentAt": device_now.isoformat()}).status == 200
    lags = sorted(event.received_at - event.timestamp for event in stored_events())
    assert lags == [timedelta(seconds=10), timedelta(seconds=20)]


@pytest.fixture
def call(source: Any, call_api: Call) -> Call:
    return call_api


@pytest.fixture
def fenced_source(aws: Any) -> None:
    """A second source that takes browser events only from its own sites."""
    from tracking.sources import Source
    from tracking.store.sources import put_source

    put_source(
        Source(
            source_id="src-fenced",
            name="Fenced site",
            write_key="fenced-write-key",
            allowed_origins=["https://www.example.com", "https://*.example.org"],
        )
    )


@pytest.mark.usefixtures("fenced_source")
@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://www.example.com", 200),
        ("https://shop.example.org", 200),
        ("https://evil.example.net", 403),
        (None, 200),  # a server-side sender has no origin
    ],
)
def test_source_allowed_origins(
    call: Call, origin: str | None, status: int, stored_events: StoredEvents
) -> None:
    headers = [("content-type", "text/plain")] + ([("origin", origin)] if origin else [])
    body = {"writeKey": "fenced-write-key", **SINGLE_EVENTS["track"]}
    reply = call("POST", "/v1/t", headers=headers, body=body)
    if status == 403:
        assert_problem(reply, 403, "may not send events for source src-fenced")
        assert stored_events() == []
    else:
        assert reply.status == 200
        assert [event.source_id for event in stored_events()] == ["src-fenced"]


def test_text_plain_simple_request_from_a_browser(call: Call, stored_events: StoredEvents) -> None:
    """analytics.js sends JSON as text/plain so that the browser skips the preflight."""
    reply = call(
        "POST",
        "/v1/t",
        headers=[("content-type", "text/plain;charset=UTF-8"), ("origin", "https://www.example.com")],
        body={"writeKey": WRITE_KEY, **SINGLE_EVENTS["track"]},
    )
    assert (reply.status, reply.json()) == (200, {"success": True})
    assert reply.headers["access-control-allow-origin"] in ("*", "https://www.example.com")
    assert len(stored_events()) == 1


def test_errors_carry_cors_headers_so_the_browser_can_read_them(call: Call) -> None:
    reply = call(
        "POST",
        "/v1/t",
        headers=[("content-type", "text/plain"), ("origin", "https://www.example.com")],
        body=SINGLE_EVENTS["track"],
    )
    assert_problem(reply, 401, "No write key")
    assert "access-control-allow-origin" in reply.headers


def preflight(call: Call, path: str, *requested: str) -> tuple[Reply, set[str]]:
    """A browser's CORS preflight for a POST to `path` with `requested` headers, and the headers allowed."""
    reply = call(
        "OPTIONS",
        path,
        headers=[
            ("origin", "https://www.example.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", ",".join(requested)),
        ],
    )
    allowed = reply.headers.get("access-control-allow-headers", "")
    return reply, {name.strip().lower() for name in allowed.split(",") if name.strip()}


@pytest.mark.parametrize("path", ["/v1/track", "/v1/b", "/forms/demo"])
def test_cors_preflight(call: Call, path: str) -> None:
    reply, allowed = preflight(call, path, "content-type", "authorization")
    assert reply.status in (200, 204)
    assert reply.headers["access-control-allow-origin"] in ("*", "https://www.example.com")
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert {"content-type", "authorization", "content-encoding"} <= allowed


@pytest.mark.parametrize("path", ["/v1/t", "/v1/b"])
def test_preflight_allows_every_header_analytics_next_sends(call: Call, path: str) -> None:
    """Its first send carries Authorization (and text/plain); each resend adds X-Retry-Count."""
    reply, allowed = preflight(call, path, "authorization", "x-retry-count")
    assert reply.status in (200, 204)
    assert {"authorization", "x-retry-count"} <= allowed


def test_the_authenticated_apis_do_not_allow_the_sdk_headers(call: Call) -> None:
    """The tracking SDKs' headers are the tracking function's alone; the CRM's preflight stays narrow."""
    reply, allowed = preflight(call, "/crm/accounts", "authorization", "x-retry-count")
    assert reply.status in (200, 204)
    assert "authorization" in allowed
    assert "x-retry-count" not in allowed


def test_dynamodb_calls_per_event_in_a_100_event_batch(call: Call, stored_events: StoredEvents) -> None:
    """Cost is part of correctness: one source lookup and 25 events per write call."""
    from leadstream.aws import dynamodb

    operations: list[str] = []

    def count(event_name: str, **_: Any) -> None:
        operations.append(event_name.rsplit(".", 1)[-1])

    dynamodb().meta.events.register("before-call.dynamodb", count)
    batch = [{**SINGLE_EVENTS["track"], "type": "track", "messageId": f"m-{i}"} for i in range(100)]
    reply = post(call, "/v1/batch", {"batch": batch})
    assert reply.status == 200
    assert len(stored_events()) == 100
    assert len(operations) / 100 <= 0.05, operations
    assert set(operations) <= {"Query", "BatchWriteItem"}


@pytest.mark.parametrize("throttled", ["unprocessed", "exception"])
def test_throttled_storage_is_503_with_retry_after(
    call: Call, throttled: str, stored_events: StoredEvents
) -> None:
    """DynamoDB refusing writes after every retry is load, not a bug: 503, and the client resends."""
    from botocore.awsrequest import AWSResponse

    from leadstream.aws import dynamodb

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        if throttled == "unprocessed":
            unprocessed = json.loads(params["body"])["RequestItems"]
            return AWSResponse("", 200, {}, None), {"UnprocessedItems": unprocessed}
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
        return AWSResponse("", 400, {}, None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    events = dynamodb().meta.events
    events.register("before-call.dynamodb.BatchWriteItem", refuse, unique_id="refuse")
    try:
        reply = post(call, "/v1/track", {"anonymousId": "a-1", "event": "Busy"})
    finally:
        events.unregister("before-call.dynamodb.BatchWriteItem", unique_id="refuse")
    problem = assert_problem(reply, 503, "")
    assert reply.headers["retry-after"] == "5"
    assert problem["title"] == "Service unavailable"
    assert stored_events() == []

"""The tracking pixel and form posts end to end through the Lambda handler, on moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from leadstream.events import TrackedEvent
from leadstream_local.inprocess import Call, Reply

StoredEvents = Callable[[], list[TrackedEvent]]


WRITE_KEY = "test-write-key-0001"  # the `source` fixture's
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
URLENCODED = "application/x-www-form-urlencoded"
THANK_YOU = "https://www.example.com/thanks"
PAGE = "https://www.example.com/demo?utm_source=ads&utm_medium=cpc&utm_campaign=fall"
TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@pytest.fixture
def call(forms_seeded: Any, call_api: Call) -> Call:
    return call_api


@pytest.fixture
def forms_seeded(source: Any) -> None:
    from pydantic import HttpUrl

    from tracking.sources import Form, Source
    from tracking.store.sources import put_form, put_source

    put_form(
        Form(
            form_id="demo",
            source_id=source.source_id,
            name="Book a demo",
            thank_you_url=HttpUrl(THANK_YOU),
            hand_raiser=True,
        )
    )
    put_form(Form(form_id="newsletter", source_id=source.source_id, name="Newsletter", email_field="mail"))
    put_source(
        Source(
            source_id="src-fenced",
            name="Fenced site",
            write_key="fenced-write-key",
            allowed_origins=["https://www.example.com"],
        )
    )
    put_form(Form(form_id="fenced", source_id="src-fenced", name="Fenced form"))


def assert_problem(reply: Reply, status: int, detail: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = reply.json()
    assert detail in problem["detail"]
    return problem


# --- Pixel --------------------------------------------------------------------------------------


def test_track_pixel_returns_the_gif_and_stores_the_event(call: Call, stored_events: StoredEvents) -> None:
    query = urlencode(
        {
            "writeKey": WRITE_KEY,
            "anonymousId": "anon-1",
            "event": "Email Opened",
            "campaign": "fall",
            "emailId": "e-9",
        }
    )
    reply = call("GET", "/pixel/v1/track", query=query, headers=[("user-agent", "Mail/1.0")])
    assert reply.status == 200
    assert reply.body == TRANSPARENT_GIF
    assert len(reply.body) == 43
    assert reply.headers["content-type"] == "image/gif"
    assert reply.headers["cache-control"] == "no-cache, no-store, must-revalidate"
    assert reply.headers["pragma"] == "no-cache"
    assert reply.headers["expires"] == "0"
    (event,) = stored_events()
    assert (event.type, event.event, event.anonymous_id) == ("track", "Email Opened", "anon-1")
    assert event.properties == {"campaign": "fall", "emailId": "e-9"}
    assert event.context["userAgent"] == "Mail/1.0"


def test_page_pixel(call: Call, stored_events: StoredEvents) -> None:
    query = urlencode({"writeKey": WRITE_KEY, "userId": "user-1", "name": "Pricing", "plan": "pro"})
    reply = call("GET", "/pixel/v1/page", query=query)
    assert (reply.status, reply.body) == (200, TRANSPARENT_GIF)
    (event,) = stored_events()
    assert (event.type, event.name, event.user_id, event.properties) == (
        "page",
        "Pricing",
        "user-1",
        {"plan": "pro"},
    )


@pytest.mark.parametrize(
    ("path", "query", "status", "detail"),
    [
        ("/pixel/v1/track", {"anonymousId": "a", "event": "E"}, 401, "writeKey"),
        ("/pixel/v1/track", {"writeKey": "no-such-key-00", "anonymousId": "a", "event": "E"}, 401, "Unknown"),
        ("/pixel/v1/identify", {"writeKey": WRITE_KEY, "userId": "u"}, 404, "not a pixel"),
        ("/pixel/v1/track", {"writeKey": WRITE_KEY, "event": "E"}, 422, "not valid"),
        (
            "/pixel/v1/track",
            {"writeKey": WRITE_KEY, "anonymousId": "undefined", "event": "E"},
            422,
            "not valid",
        ),
    ],
)
def test_pixel_errors_are_problems(
    call: Call, path: str, query: dict[str, str], status: int, detail: str, stored_events: StoredEvents
) -> None:
    assert_problem(call("GET", path, query=urlencode(query)), status, detail)
    assert stored_events() == []


# --- Forms --------------------------------------------------------------------------------------


def _browser_post(call: Call, form_id: str, fields: dict[str, str], *headers: tuple[str, str]) -> Reply:
    return call(
        "POST",
        f"/forms/{form_id}",
        headers=[
            ("content-type", URLENCODED),
            ("accept", BROWSER_ACCEPT),
            ("referer", PAGE),
            ("origin", "https://www.example.com"),
            *headers,
        ],
        body=urlencode(fields).encode(),
    )


def test_browser_form_post_redirects_to_the_thank_you_page(call: Call, stored_events: StoredEvents) -> None:
    fields = {"email": "ada@example.com", "firstName": "Ada", "company": "Engines", "message": "Call me"}
    reply = _browser_post(call, "demo", fields, ("cookie", "ajs_anonymous_id=%22anon-7%22; other=1"))
    assert reply.status == 303
    assert reply.headers["location"] == THANK_YOU
    (event,) = stored_events()
    assert (event.type, event.event, event.anonymous_id) == ("track", "Form Submitted", "anon-7")
    assert event.properties == {
        "formId": "demo",
        "formName": "Book a demo",
        "handRaiser": True,
        "fields": fields,
    }
    assert event.context["traits"] == {"email": "ada@example.com", "firstName": "Ada", "company": "Engines"}
    assert event.context["page"]["url"] == PAGE
    assert event.context["campaign"] == {"source": "ads", "medium": "cpc", "name": "fall"}
    assert event.email == "ada@example.com"


def test_multipart_form_post_from_a_script_gets_json(call: Call, stored_events: StoredEvents) -> None:
    from urllib3 import encode_multipart_formdata

    body, content_type = encode_multipart_formdata(
        {
            "email": "grace@example.com",
            "lastName": "Hopper",
            "cv": ("cv.pdf", b"%PDF \x00\xff", "application/pdf"),
        }
    )
    reply = call(
        "POST",
        "/forms/demo",
        headers=[("content-type", content_type), ("accept", "*/*"), ("referer", PAGE)],
        body=body,
    )
    assert (reply.status, reply.json()) == (200, {"success": True})
    (event,) = stored_events()
    assert event.properties["fields"] == {"email": "grace@example.com", "lastName": "Hopper"}
    assert event.context["traits"] == {"email": "grace@example.com", "lastName": "Hopper"}


def test_json_form_post(call: Call, stored_events: StoredEvents) -> None:
    body = json.dumps({"mail": "lin@example.com", "name": "Lin", "anonymousId": "anon-from-page"}).encode()
    reply = call(
        "POST",
        "/forms/newsletter",
        headers=[("content-type", "application/json"), ("accept", "text/html")],
        body=body,
    )
    assert (reply.status, reply.json()) == (200, {"success": True})
    (event,) = stored_events()
    assert event.anonymous_id == "anon-from-page"
    assert event.context["traits"] == {"email": "lin@example.com", "name": "Lin"}
    assert event.properties["handRaiser"] is False


def test_browser_post_to_a_form_without_thank_you_page_gets_json(
    call: Call, stored_events: StoredEvents
) -> None:
    reply = _browser_post(call, "newsletter", {"mail": "lin@example.com"})
    assert (reply.status, reply.json()) == (200, {"success": True})
    assert len(stored_events()) == 1


def test_filled_honeypot_is_answered_like_success_and_stored_nowhere(
    call: Call, stored_events: StoredEvents
) -> None:
    fields = {"email": "bot@spam.example", "website_url": "http://spam.example"}
    reply = _browser_post(call, "demo", fields)
    assert (reply.status, reply.headers["location"]) == (303, THANK_YOU)
    scripted = call(
        "POST",
        "/forms/demo",
        headers=[("content-type", "application/json")],
        body=json.dumps({"website_url": "x", "email": "not-even-an-email"}).encode(),
    )
    assert (scripted.status, scripted.json()) == (200, {"success": True})
    assert stored_events() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"firstName": "Ada"}, "needs an email address in field 'email'"),
        ({"email": "ada-at-example.com"}, "'email' is not an email address"),
    ],
)
def test_missing_or_invalid_email_is_422_naming_the_field(
    call: Call, fields: dict[str, str], message: str, stored_events: StoredEvents
) -> None:
    problem = assert_problem(_browser_post(call, "demo", fields), 422, message)
    assert [error["field"] for error in problem["errors"]] == ["email"]
    assert message in problem["errors"][0]["message"]
    assert stored_events() == []


def test_a_resent_form_post_is_stored_once(call: Call, stored_events: StoredEvents) -> None:
    fields = {"email": "ada@example.com", "message": "hi"}
    cookie = ("cookie", "ajs_anonymous_id=anon-7")
    assert _browser_post(call, "demo", fields, cookie).status == 303
    assert _browser_post(call, "demo", fields, cookie).status == 303
    assert len(stored_events()) == 1


def test_unknown_form_is_404(call: Call) -> None:
    assert_problem(_browser_post(call, "no-such-form", {"email": "a@b.co"}), 404, "no form 'no-such-form'")


def test_form_of_a_fenced_source_refuses_other_origins(call: Call, stored_events: StoredEvents) -> None:
    fields = urlencode({"email": "a@b.co"}).encode()
    reply = call(
        "POST",
        "/forms/fenced",
        headers=[("content-type", URLENCODED), ("origin", "https://evil.example.net")],
        body=fields,
    )
    assert_problem(reply, 403, "may not send events")
    assert _browser_post(call, "fenced", {"email": "a@b.co"}).status == 200
    assert len(stored_events()) == 1


def test_form_with_unsupported_content_type_is_415(call: Call) -> None:
    reply = call("POST", "/forms/demo", headers=[("content-type", "application/xml")], body=b"<a/>")
    assert_problem(reply, 415, "multipart/form-data")

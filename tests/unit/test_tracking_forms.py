"""Form posts and the pixel: reading fields in three encodings, and the events they become."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from leadstream.errors import BadRequest, InvalidInput, NotFound, UnsupportedMediaType
from leadstream.events import SegmentMessage
from tracking import forms, pixel
from tracking.sources import Form

FORM = Form(form_id="demo", source_id="src", name="Book a demo", hand_raiser=True)
DAY = date(2026, 11, 23)


def _multipart(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    """A body as a browser writes it: one part per field, files carrying a filename."""
    chunks = []
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if filename:
            head += "Content-Type: application/octet-stream\r\n"
        chunks.append(head.encode() + b"\r\n" + value + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


def test_urlencoded_fields_with_repeated_names_and_utf8() -> None:
    body = b"email=ada%40example.com&firstName=Zo%C3%AB&topic=a&topic=b&empty="
    assert forms.read_fields(body, "application/x-www-form-urlencoded") == {
        "email": "ada@example.com",
        "firstName": "Zoë",
        "topic": ["a", "b"],
        "empty": "",
    }


def test_multipart_fields_skip_uploaded_files() -> None:
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    body = _multipart(
        boundary,
        [
            ("email", None, b"ada@example.com"),
            ("company", None, "Zoë & Co".encode()),
            ("cv", "cv.pdf", b"%PDF-1.4 \x00\xff binary"),
            ("topic", None, b"a"),
            ("topic", None, b"b"),
        ],
    )
    fields = forms.read_fields(body, f"multipart/form-data; boundary={boundary}")
    assert fields == {"email": "ada@example.com", "company": "Zoë & Co", "topic": ["a", "b"]}


def test_multipart_without_a_boundary_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="boundary"):
        forms.read_fields(b"email=x", "multipart/form-data")


def test_json_fields() -> None:
    assert forms.read_fields(b'{"email": "ada@example.com", "n": 2}', "application/json") == {
        "email": "ada@example.com",
        "n": 2,
    }


def test_other_content_types_are_refused() -> None:
    with pytest.raises(UnsupportedMediaType, match="multipart/form-data"):
        forms.read_fields(b"<xml/>", "application/xml")


def test_too_many_urlencoded_fields_are_refused() -> None:
    body = "&".join(f"f{i}=v" for i in range(forms.MAX_FIELDS + 1)).encode()
    with pytest.raises(BadRequest, match="more than"):
        forms.read_fields(body, "application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    ("fields", "spam"),
    [
        ({"email": "a@b.co"}, False),
        ({"email": "a@b.co", "website_url": ""}, False),
        ({"email": "a@b.co", "website_url": "  "}, False),
        ({"email": "a@b.co", "website_url": "http://spam.example"}, True),
    ],
)
def test_honeypot(fields: dict[str, Any], spam: bool) -> None:
    assert forms.is_spam(FORM, fields) is spam


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "needs an email address in field 'email'"),
        ({"email": "  "}, "needs an email address"),
        ({"email": "not-an-email"}, "'email' is not an email address"),
        ({"email": "a@b"}, "not an email address"),
        ({"email": ["a@b.co", "c@d.co"]}, "needs an email address"),
    ],
)
def test_missing_or_invalid_email_names_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        forms.submitted_email(FORM, fields)
    assert caught.value.errors[0]["field"] == "email"


def test_the_form_chooses_its_email_field() -> None:
    form = FORM.model_copy(update={"email_field": "work_email"})
    assert forms.submitted_email(form, {"work_email": " ada@example.com "}) == "ada@example.com"


@pytest.mark.parametrize(
    ("cookies", "fields", "expected"),
    [
        (["ajs_anonymous_id=%22abc-123%22"], {}, "abc-123"),
        (['ajs_anonymous_id="abc-123"'], {}, "abc-123"),
        (["other=1", "ajs_anonymous_id=abc-123"], {"anonymousId": "field-id"}, "abc-123"),
        (["ajs_anonymous_id=%22null%22"], {"anonymousId": "field-id"}, "field-id"),
        ([], {"anonymousId": "field-id"}, "field-id"),
    ],
)
def test_anonymous_id_comes_from_the_cookie_then_the_field(
    cookies: list[str], fields: dict[str, Any], expected: str
) -> None:
    assert forms.anonymous_id(cookies, fields) == expected


def test_anonymous_id_is_new_when_nothing_usable_was_sent() -> None:
    value = forms.anonymous_id(["ajs_anonymous_id=undefined"], {"anonymousId": ""})
    assert uuid.UUID(value).version == 4


def _event(fields: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "anonymous_id": "anon-1",
        "referer": None,
        "user_agent": None,
        "idempotency_key": None,
        "day": DAY,
        **overrides,
    }
    return forms.form_event(FORM, fields, **arguments)


def test_form_event_is_a_valid_track_event_with_traits_and_fields() -> None:
    fields = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "Last-Name": "Lovelace",
        "Company Name": "Analytical Engines",
        "jobTitle": "CTO",
        "phone": "",
        "message": "Call me",
        "website_url": "",
    }
    raw = _event(fields, user_agent="Mozilla/5.0")
    message = SegmentMessage.model_validate(raw)
    assert (message.type, message.event, message.anonymous_id) == ("track", "Form Submitted", "anon-1")
    assert message.properties == {
        "formId": "demo",
        "formName": "Book a demo",
        "handRaiser": True,
        "fields": {name: value for name, value in fields.items() if name != "website_url"},
    }
    assert message.context["traits"] == {
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "company": "Analytical Engines",
        "title": "CTO",
    }
    assert message.context["userAgent"] == "Mozilla/5.0"


def test_page_and_utm_campaign_come_from_the_referer_and_hidden_fields() -> None:
    referer = "https://www.example.com/pricing?utm_source=newsletter&utm_campaign=fall&ref=x"
    raw = _event({"email": "a@b.co", "utm_medium": "email"}, referer=referer)
    assert raw["context"]["page"] == {
        "url": referer,
        "path": "/pricing",
        "search": "?utm_source=newsletter&utm_campaign=fall&ref=x",
    }
    assert raw["context"]["campaign"] == {"source": "newsletter", "name": "fall", "medium": "email"}


def test_a_referer_that_is_not_a_web_page_is_ignored() -> None:
    raw = _event({"email": "a@b.co"}, referer="android-app://com.example")
    assert "page" not in raw["context"]
    assert "campaign" not in raw["context"]


def test_a_resent_submission_keeps_its_message_id() -> None:
    fields = {"email": "a@b.co", "message": "hi"}
    first = _event(fields)["messageId"]
    assert _event(dict(fields))["messageId"] == first
    assert _event({**fields, "message": "hello"})["messageId"] != first
    assert _event(fields, day=date(2026, 11, 24))["messageId"] != first
    assert _event(fields, anonymous_id="anon-2")["messageId"] != first
    keyed = _event(fields, idempotency_key="k-1")["messageId"]
    assert _event({**fields, "message": "edited"}, idempotency_key="k-1")["messageId"] == keyed


@pytest.mark.parametrize(
    ("content_type", "accept", "browser"),
    [
        ("application/x-www-form-urlencoded", "text/html,application/xhtml+xml,*/*;q=0.8", True),
        ("multipart/form-data; boundary=x", "text/html", True),
        ("application/x-www-form-urlencoded", "*/*", False),
        ("application/json", "text/html", False),
    ],
)
def test_browser_posts_are_told_apart_from_scripts(content_type: str, accept: str, browser: bool) -> None:
    assert forms.is_browser_post(content_type, accept) is browser


def test_pixel_is_the_classic_43_byte_transparent_gif() -> None:
    assert len(pixel.PIXEL_GIF) == 43
    assert pixel.PIXEL_GIF.startswith(b"GIF89a\x01\x00\x01\x00")
    assert pixel.PIXEL_GIF.endswith(b";")


def test_pixel_query_becomes_an_event_whose_other_parameters_are_properties() -> None:
    query = {
        "writeKey": "k",
        "anonymousId": "anon-1",
        "event": "Email Opened",
        "campaign": "fall",
        "email_id": "e-9",
    }
    raw = pixel.pixel_event("track", query, user_agent="Mail/1.0")
    message = SegmentMessage.model_validate(raw)
    assert (message.type, message.event, message.anonymous_id) == ("track", "Email Opened", "anon-1")
    assert message.properties == {"campaign": "fall", "email_id": "e-9"}
    assert message.context == {"userAgent": "Mail/1.0"}
    assert "writeKey" not in raw


def test_page_pixel_takes_its_name() -> None:
    raw = pixel.pixel_event("page", {"userId": "u-1", "name": "Pricing"}, user_agent=None)
    assert raw == {"type": "page", "userId": "u-1", "name": "Pricing", "properties": {}}


def test_only_track_and_page_pixels_exist() -> None:
    with pytest.raises(NotFound, match="/pixel/v1/track"):
        pixel.pixel_type("identify")

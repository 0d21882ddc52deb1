"""Dynamic slots, pop-ups (audience, cap, counts) and page A/B tests through the handlers on moto."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from leadstream.profiles import IdentityRef, Profile
from leadstream.store.profiles import put_profile
from leadstream_local.inprocess import Call, Reply
from scoring.identity import new_profile_id
from website import experiments
from website.models import PageTest

FORM = {
    "formId": "news",
    "name": "Newsletter",
    "sourceId": "src-test",
    "fields": [{"name": "email", "label": "Email", "kind": "email", "required": True}],
    "thankYouMessage": "Welcome aboard",
}
SLOT = {
    "slotId": "hero",
    "name": "Hero",
    "variants": [
        {
            "name": "pricing",
            "audience": {"tag": "interest:pricing"},
            "html": "<p>See our plans, {{ first_name }}</p>",
        },
        {"name": "known", "audience": {"knownOnly": True}, "html": "<p>Welcome back</p>"},
    ],
    "defaultHtml": "<p>Hello stranger</p>",
}
POPUP = {
    "popupId": "join",
    "name": "Join the newsletter",
    "kind": "form",
    "formId": "news",
    "html": "<h2>Stay in touch</h2>",
    "trigger": {"kind": "time", "seconds": 2},
    "urlPattern": "*/pricing*",
    "audience": {"anonymousOnly": True},
    "cap": {"times": 1, "perDays": 30},
}


@pytest.fixture
def marketer(call_api: Call, token_for: Callable[..., str], source: Any) -> Callable[..., Reply]:
    token = token_for("marketing")

    def send(method: str, path: str, body: Any = b"", **headers: str) -> Reply:
        return call_api(method, path, body=body, headers=list(headers.items()), token=token)

    return send


def _ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, reply.body
    return reply.json()


def _person(anonymous_id: str, **changes: Any) -> None:
    profile = Profile(
        profile_id=new_profile_id(IdentityRef(kind="anon", value=anonymous_id)),
        identities=[
            IdentityRef(kind="anon", value=anonymous_id),
            IdentityRef(kind="email", value="p@example.com"),
        ],
        email="p@example.com",
        traits={"firstName": "Pat"},
        **changes,
    )
    assert put_profile(profile, 0)


def test_the_slot_variant_is_the_first_that_matches(marketer: Callable[..., Reply], call_api: Call) -> None:
    _ok(marketer("POST", "/marketing/slots", SLOT), 201)
    stranger = _ok(call_api("GET", "/w/slots/hero", query="anonymousId=nobody-yet"))
    assert stranger == {"slotId": "hero", "variant": None, "html": "<p>Hello stranger</p>"}
    _person("tagged-1", tags=["interest:pricing"])
    tagged = _ok(call_api("GET", "/w/slots/hero", query="anonymousId=tagged-1"))
    assert tagged["variant"] == "pricing"  # first match wins, though "known" matches too
    assert tagged["html"] == "<p>See our plans, Pat</p>"
    _person("known-1")
    assert _ok(call_api("GET", "/w/slots/hero", query="anonymousId=known-1"))["variant"] == "known"


def test_a_popup_is_shown_to_its_audience_until_its_cap(
    marketer: Callable[..., Reply], call_api: Call
) -> None:
    _ok(marketer("POST", "/marketing/forms", FORM), 201)
    _ok(marketer("POST", "/marketing/popups", POPUP), 201)
    query = "url=https%3A%2F%2Fsite.example%2Fpricing&anonymousId=anon-7"
    (popup,) = _ok(call_api("GET", "/w/popups", query=query))["popups"]
    assert popup["trigger"] == {"kind": "time", "seconds": 2}
    assert "Stay in touch" in popup["html"]
    assert 'action="/w/forms/news"' in popup["html"]
    assert _ok(
        call_api("GET", "/w/popups", query="url=https%3A%2F%2Fsite.example%2Fblog&anonymousId=anon-7")
    ) == {
        "anonymousId": "anon-7",
        "popups": [],
    }
    event = {"type": "impression", "eventId": str(uuid.uuid4()), "anonymousId": "anon-7"}
    assert _ok(call_api("POST", "/w/popups/join/events", body=event))["counted"] is True
    assert _ok(call_api("POST", "/w/popups/join/events", body=event))["counted"] is False  # a retry
    assert _ok(call_api("GET", "/w/popups", query=query))["popups"] == []  # capped at one
    click = {"type": "click", "eventId": str(uuid.uuid4()), "anonymousId": "anon-7"}
    _ok(call_api("POST", "/w/popups/join/events", body=click))
    errors = call_api(
        "POST", "/w/forms/news", body={"email": "nope", "_popup": "join", "anonymousId": "anon-7"}
    )
    assert errors.status == 422
    assert errors.json()["errors"] == [
        {"field": "email", "message": "enter an email address like name@example.com"}
    ]
    done = call_api(
        "POST", "/w/forms/news", body={"email": "a7@example.com", "_popup": "join", "anonymousId": "anon-7"}
    )
    assert _ok(done)["message"] == "Welcome aboard"
    report = _ok(marketer("GET", "/marketing/popups/join/report"))
    assert (report["impressions"], report["clicks"], report["conversions"]) == (1, 1, 1)
    _person("known-2")
    known = "url=https%3A%2F%2Fsite.example%2Fpricing&anonymousId=known-2"
    assert _ok(call_api("GET", "/w/popups", query=known))["popups"] == []  # anonymous only


def test_a_page_ab_test_is_sticky_and_reports_per_variant(
    marketer: Callable[..., Reply], call_api: Call
) -> None:
    _ok(marketer("POST", "/marketing/forms", FORM), 201)
    test = {
        "variants": [
            {"name": "A", "title": "Plain", "blocks": [{"kind": "text", "html": "<p>variant A</p>"},
                                                         {"kind": "form", "formId": "news"}]},
            {"name": "B", "title": "Bold", "blocks": [{"kind": "text", "html": "<p>variant B</p>"},
                                                        {"kind": "form", "formId": "news"}]},
        ],
        "minSample": 2,
    }  # fmt: skip
    page = {"slug": "launch", "title": "Launch", "sourceId": "src-test", "test": test}
    _ok(marketer("POST", "/marketing/pages", page), 201)
    _ok(marketer("POST", "/marketing/pages/launch/publish"))
    seen: dict[str, str] = {}
    for number in range(12):
        visitor = f"ab-visitor-{number}"
        cookie = ("cookie", f"ajs_anonymous_id={visitor}")
        first = call_api("GET", "/p/launch", headers=[cookie]).body.decode()
        second = call_api("GET", "/p/launch", headers=[cookie]).body.decode()
        variant = "A" if "variant A" in first else "B"
        assert f"variant {variant}" in second  # sticky
        assert variant == experiments.assign("launch", PageTest.model_validate(test), visitor).name
        seen[visitor] = variant
        if number % 3 == 0:
            body = f"_form=news&email=v{number}%40example.com&anonymousId={visitor}".encode()
            form = ("content-type", "application/x-www-form-urlencoded")
            posted = call_api("POST", "/p/launch", body=body, headers=[form, cookie])
            assert posted.status == 200, posted.body
            assert "Welcome aboard" in posted.body.decode()
    report = _ok(marketer("GET", "/marketing/pages/launch/test"))
    views = {row["variant"]: row["views"] for row in report["variants"]}
    assert views == {
        "A": list(seen.values()).count("A"),
        "B": list(seen.values()).count("B"),
    }  # unique visitors
    assert sum(row["conversions"] for row in report["variants"]) == 4
    assert report["winner"] is None  # twelve visitors are noise


def test_pages_are_versioned_and_unpublished(marketer: Callable[..., Reply], call_api: Call) -> None:
    page = {
        "slug": "promo",
        "title": "Promo",
        "sourceId": "src-test",
        "blocks": [{"kind": "text", "html": "v1"}],
    }
    created = marketer("POST", "/marketing/pages", page)
    assert created.status == 201
    assert call_api("GET", "/p/promo").status == 404  # a draft is not served
    published = marketer("POST", "/marketing/pages/promo/publish")
    changed = dict(page, blocks=[{"kind": "text", "html": "v2"}])
    changed.pop("slug")
    stale = marketer("PUT", "/marketing/pages/promo", changed, **{"If-Match": created.headers["etag"]})
    assert stale.status == 412
    updated = marketer("PUT", "/marketing/pages/promo", changed, **{"If-Match": published.headers["etag"]})
    assert updated.status == 200
    assert "v1" in call_api("GET", "/p/promo").body.decode()  # still the published version
    _ok(marketer("POST", "/marketing/pages/promo/publish"))
    assert "v2" in call_api("GET", "/p/promo").body.decode()
    assert _ok(marketer("GET", "/marketing/pages/promo/versions/1"))["blocks"][0]["html"] == "v1"
    _ok(marketer("POST", "/marketing/pages/promo/unpublish"))
    assert call_api("GET", "/p/promo").status == 404


def test_templates_the_sandbox_refuses_are_422(marketer: Callable[..., Reply]) -> None:
    page = {"slug": "bad", "title": "Bad", "sourceId": "src-test",
            "blocks": [{"kind": "text", "html": "{{ ''.__class__ }}"}]}  # fmt: skip
    reply = marketer("POST", "/marketing/pages", page)
    assert reply.status == 422
    assert reply.json()["errors"][0]["field"] == "blocks.0.html"


def test_asset_lifecycle_expiry_and_review(marketer: Callable[..., Reply], call_api: Call) -> None:
    asset = {"assetId": "guide", "title": "Guide", "sourceId": "src-test", "reviewBy": "2000-01-01",
             "expiresAt": "2000-01-01T00:00:00Z",
             "file": {"fileName": "guide.pdf", "contentType": "application/pdf", "size": 3}}  # fmt: skip
    created = _ok(marketer("POST", "/marketing/assets", asset), 201)
    assert created["asset"]["state"] == "draft"
    assert call_api("GET", "/a/guide").status == 404  # a draft is not served
    published = _ok(marketer("POST", "/marketing/assets/guide/publish"))
    assert published["needsReview"] is True
    assert published["servable"] is False  # expired
    assert call_api("GET", "/a/guide").status == 404
    pdf = {"fileName": "guide-2.pdf", "contentType": "application/pdf", "size": 4}
    second = _ok(marketer("POST", "/marketing/assets/guide/files", pdf), 201)
    assert second["upload"]["fields"]["key"] == "assets/guide/2"
    assert [f["number"] for f in second["asset"]["files"]] == [1, 2]
    _ok(marketer("POST", "/marketing/assets/guide/archive"))
    assert marketer("POST", "/marketing/assets/guide/files", pdf).status == 409


def test_a_named_event_converts_the_variant_the_visitor_saw(
    marketer: Callable[..., Reply], call_api: Call
) -> None:
    test = {
        "variants": [{"name": "A", "blocks": [{"kind": "text", "html": "a"}]},
                     {"name": "B", "blocks": [{"kind": "text", "html": "b"}]}],
        "conversion": "event", "conversionEvent": "Demo Booked",
    }  # fmt: skip
    _ok(
        marketer(
            "POST", "/marketing/pages", {"slug": "ev", "title": "Ev", "sourceId": "src-test", "test": test}
        ),
        201,
    )
    _ok(marketer("POST", "/marketing/pages/ev/publish"))
    visitor = "event-visitor"
    call_api("GET", "/p/ev", headers=[("cookie", f"ajs_anonymous_id={visitor}")])
    other = {"event": "Clicked Logo", "anonymousId": visitor}
    assert _ok(call_api("POST", "/w/pages/ev/conversions", body=other))["counted"] is False
    booked = {"event": "Demo Booked", "anonymousId": visitor}
    assert _ok(call_api("POST", "/w/pages/ev/conversions", body=booked))["counted"] is True
    assert (
        _ok(call_api("POST", "/w/pages/ev/conversions", body=booked))["counted"] is False
    )  # once per visitor
    seen = experiments.assign("ev", PageTest.model_validate(test), visitor).name
    rows = {row["variant"]: row for row in _ok(marketer("GET", "/marketing/pages/ev/test"))["variants"]}
    assert (rows[seen]["views"], rows[seen]["conversions"]) == (1, 1)


def test_creates_take_an_idempotency_key(marketer: Callable[..., Reply]) -> None:
    first = marketer("POST", "/marketing/slots", SLOT, **{"Idempotency-Key": "slot-create-1"})
    again = marketer("POST", "/marketing/slots", SLOT, **{"Idempotency-Key": "slot-create-1"})
    assert (first.status, again.status) == (201, 201)
    assert first.json() == again.json()
    changed = marketer(
        "POST", "/marketing/slots", {**SLOT, "name": "Other"}, **{"Idempotency-Key": "slot-create-1"}
    )
    assert changed.status == 422
    assert marketer("POST", "/marketing/slots", SLOT).status == 409  # the id is taken
    _ok(marketer("POST", "/marketing/slots", {**SLOT, "slotId": "side"}), 201)
    first_page = _ok(marketer("GET", "/marketing/slots?limit=1"))
    second_page = _ok(marketer("GET", f"/marketing/slots?limit=1&cursor={first_page['nextCursor']}"))
    assert [s["slotId"] for s in first_page["items"] + second_page["items"]] == ["hero", "side"]
    assert marketer("GET", "/marketing/slots?cursor=not-ours").status == 400

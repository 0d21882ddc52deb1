"""The marketing email API through the template's routes and JWT authorizer: templates (versions, If-Match,
sandbox refusals, preview for a person) and the suppression list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from email_support import person

from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate
from mail.link_tokens import LinkKind, link_keys, verify

TokenFor = Callable[..., str]
TEMPLATE: dict[str, Any] = {
    "name": "Welcome",
    "subject": "Welcome, {{ first_name | default('there') }}",
    "html": "<p>Hi {{ first_name | default('there') }} from {{ company | default('your team') }}</p>"
    '<a href="https://example.com/start">Start</a>',
    "preheader": "Getting started",
}


@pytest.fixture
def marketer(token_for: TokenFor) -> str:
    return token_for("marketing", user="mia")


def _create(call_api: Call, token: str, body: dict[str, Any] = TEMPLATE) -> dict[str, Any]:
    reply = call_api("POST", "/marketing/templates", body=body, token=token)
    assert reply.status == 201, reply.body
    return reply.json()  # type: ignore[no-any-return]


def test_create_read_and_list(call_api: Call, marketer: str) -> None:
    created = _create(call_api, marketer)
    assert created["version"] == 1
    assert created["templateId"].startswith("tpl-")
    reply = call_api("GET", f"/marketing/templates/{created['templateId']}", token=marketer)
    assert reply.status == 200
    assert reply.headers["etag"] == '"1"'
    assert reply.json()["subject"] == TEMPLATE["subject"]
    listed = call_api("GET", "/marketing/templates", token=marketer).json()
    assert [item["templateId"] for item in listed["items"]] == [created["templateId"]]
    assert "html" not in listed["items"][0]
    assert listed["nextCursor"] is None


def test_changes_make_versions_and_need_if_match(call_api: Call, marketer: str) -> None:
    template_id = _create(call_api, marketer)["templateId"]
    path = f"/marketing/templates/{template_id}"
    changed = {**TEMPLATE, "subject": "Hello again"}

    assert call_api("PUT", path, body=changed, token=marketer).status == 428
    reply = call_api("PUT", path, body=changed, token=marketer, headers=[("if-match", '"1"')])
    assert reply.status == 200
    assert reply.json()["version"] == 2
    assert reply.headers["etag"] == '"2"'
    stale = call_api("PUT", path, body=changed, token=marketer, headers=[("if-match", '"1"')])
    assert stale.status == 412
    assert 'current version ("2")' in stale.json()["detail"]

    first = call_api("GET", path, query="version=1", token=marketer).json()
    assert first["subject"] == TEMPLATE["subject"]
    assert first["version"] == 1
    assert call_api("GET", path, query="version=9", token=marketer).status == 404


def test_archived_templates_leave_the_list_but_keep_their_versions(call_api: Call, marketer: str) -> None:
    template_id = _create(call_api, marketer)["templateId"]
    path = f"/marketing/templates/{template_id}"
    assert call_api("DELETE", path, token=marketer, headers=[("if-match", '"1"')]).status == 204
    assert call_api("GET", "/marketing/templates", token=marketer).json()["items"] == []
    assert call_api("GET", path, query="version=1", token=marketer).status == 200
    edit = call_api("PUT", path, body=TEMPLATE, token=marketer, headers=[("if-match", '"1"')])
    assert edit.status == 404


@pytest.mark.parametrize(
    "html",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ self.__dict__ }}",
        "{{ traits['__class__'] }}",
        "{% include 'x' %}",
    ],
)
def test_unsafe_templates_are_refused_on_save(call_api: Call, marketer: str, html: str) -> None:
    reply = call_api("POST", "/marketing/templates", body={**TEMPLATE, "html": html}, token=marketer)
    assert reply.status == 422
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["errors"][0]["field"] == "html"


def test_a_syntax_error_is_a_422_naming_the_line(call_api: Call, marketer: str) -> None:
    reply = call_api(
        "POST", "/marketing/templates", body={**TEMPLATE, "subject": "Hi {{ name"}, token=marketer
    )
    assert reply.status == 422
    assert reply.json()["errors"][0]["message"].startswith("subject, line 1")


def test_bad_bodies_say_what_to_fix(call_api: Call, marketer: str) -> None:
    missing = call_api("POST", "/marketing/templates", body={"name": "x"}, token=marketer)
    assert missing.status == 422
    assert {error["field"] for error in missing.json()["errors"]} == {"subject", "html"}
    not_json = call_api("POST", "/marketing/templates", body=b"{", token=marketer)
    assert not_json.status == 422
    assert not_json.json()["errors"][0]["message"] == "JSON decode error"


def test_the_preview_renders_for_a_profile(call_api: Call, marketer: str, aws: StackTemplate) -> None:
    template_id = _create(call_api, marketer)["templateId"]
    ada = person("ada@example.com", traits={"firstName": "Ada", "company": "Engines"})
    reply = call_api(
        "POST",
        f"/marketing/templates/{template_id}/preview",
        body={"profileId": ada.profile_id},
        token=marketer,
        headers=[("host", "api.example.com"), ("x-forwarded-proto", "https")],
    )
    assert reply.status == 200, reply.body
    preview = reply.json()
    assert preview["subject"] == "Welcome, Ada"
    assert preview["to"] == "ada@example.com"
    assert "Hi Ada from Engines" in preview["html"]
    assert "Getting started" in preview["html"]
    assert "Leadstream Inc." in preview["text"]
    assert preview["links"] == ["https://example.com/start"]
    assert preview["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    click = preview["html"].split("https://api.example.com/email/click/", 1)[1].split('"', 1)[0]
    assert verify(click, LinkKind.CLICK, link_keys()).url == "https://example.com/start"


def test_the_preview_falls_back_for_missing_traits(call_api: Call, marketer: str, aws: StackTemplate) -> None:
    template_id = _create(call_api, marketer)["templateId"]
    nameless = person("n@example.com", traits={})
    by_email = call_api(
        "POST", f"/marketing/templates/{template_id}/preview", body={"email": "N@example.com"}, token=marketer
    ).json()
    assert by_email["subject"] == "Welcome, there"
    assert "from your team" in by_email["html"]
    assert nameless.email == by_email["to"]
    typed = call_api(
        "POST",
        f"/marketing/templates/{template_id}/preview",
        body={"traits": {"name": "Grace Hopper"}},
        token=marketer,
    ).json()
    assert typed["subject"] == "Welcome, Grace"
    missing = call_api(
        "POST", f"/marketing/templates/{template_id}/preview", body={"profileId": "nope"}, token=marketer
    )
    assert missing.status == 404


def test_a_preview_that_fails_for_this_person_is_a_422(
    call_api: Call, marketer: str, aws: StackTemplate
) -> None:
    template_id = _create(call_api, marketer, {**TEMPLATE, "subject": "In {{ traits.age + 1 }} years"})[
        "templateId"
    ]
    reply = call_api(
        "POST", f"/marketing/templates/{template_id}/preview", body={"traits": {"age": "old"}}, token=marketer
    )
    assert reply.status == 422
    assert reply.json()["errors"][0]["field"] == "subject"


@pytest.mark.parametrize("role", ["sales", None])
def test_only_marketing_may_use_the_api(call_api: Call, token_for: TokenFor, role: str | None) -> None:
    token = token_for(role) if role else None
    reply = call_api("GET", "/marketing/templates", token=token)
    assert reply.status == (403 if role else 401)


def test_admins_may_use_it(call_api: Call, token_for: TokenFor) -> None:
    assert call_api("GET", "/marketing/templates", token=token_for("admin")).status == 200


def test_the_suppression_list(call_api: Call, marketer: str) -> None:
    path = "/marketing/suppressions/Someone@Example.com"
    assert call_api("GET", path, token=marketer).status == 404
    added = call_api("PUT", path, body={"detail": "asked by phone"}, token=marketer)
    assert added.status == 200
    assert added.json()["suppressed"] is True
    assert set(added.json()["reasons"]) == {"manual"}
    assert call_api("GET", path, token=marketer).json()["email"] == "someone@example.com"
    removed = call_api("DELETE", path, token=marketer).json()
    assert removed["suppressed"] is False
    assert call_api("GET", "/marketing/suppressions/not-an-address", token=marketer).status == 422


def test_removing_a_manual_entry_keeps_an_unsubscribe(
    call_api: Call, marketer: str, aws: StackTemplate
) -> None:
    from datetime import UTC, datetime

    from mail.store.suppression import suppress
    from mail.suppression import SuppressionReason

    suppress("u@example.com", SuppressionReason.UNSUBSCRIBED, datetime.now(UTC))
    path = "/marketing/suppressions/u@example.com"
    call_api("PUT", path, body={}, token=marketer)
    remaining = call_api("DELETE", path, token=marketer).json()
    assert remaining["suppressed"] is True
    assert set(remaining["reasons"]) == {"unsubscribed"}


THOUSAND = "[" + ", ".join(str(number) for number in range(1000)) + "]"


@pytest.mark.parametrize(
    ("html", "says"),
    [
        (
            f"{{% for a in {THOUSAND} %}}{{% for b in {THOUSAND} %}}{{% endfor %}}{{% endfor %}}",
            "html, line 1: it takes more than 20000 loop iterations and calls to render",
        ),
        (
            "<p>{% macro item(n) %}{{ item(n) }}{% endmacro %}\n{{ item(1) }}</p>",
            "html, line 1: macro 'item' calls itself (item -> item); recursion is not available",
        ),
    ],
)
def test_templates_past_the_bounds_are_refused_on_save(
    call_api: Call, marketer: str, html: str, says: str
) -> None:
    """Both used to fail the request: the loops ran for over a minute, the macro was a 500."""
    reply = call_api("POST", "/marketing/templates", body={**TEMPLATE, "html": html}, token=marketer)
    assert reply.status == 422
    assert reply.headers["content-type"] == "application/problem+json"
    ((error,),) = [reply.json()["errors"]]
    assert error["field"] == "html"
    assert error["message"].startswith(says)
    assert call_api("GET", "/marketing/templates", token=marketer).json()["items"] == []


def test_a_preview_past_the_budget_says_why(call_api: Call, marketer: str) -> None:
    """Saved (the sample person has no such list); the preview for someone with a long list is a 422."""
    html = "{% for a in traits.plans %}{% for b in traits.plans %}.{% endfor %}{% endfor %}"
    template_id = _create(call_api, marketer, {**TEMPLATE, "html": html})["templateId"]
    path = f"/marketing/templates/{template_id}/preview"
    small = call_api("POST", path, body={"traits": {"plans": [1, 2]}}, token=marketer)
    assert small.status == 200, small.body
    long = call_api("POST", path, body={"traits": {"plans": list(range(1000))}}, token=marketer)
    assert long.status == 422
    assert "more than 20000 loop iterations" in long.json()["errors"][0]["message"]


SITE_LINK = {
    **TEMPLATE,
    "html": '<p><a href="{{ traits.website }}">Your site</a></p><a href="https://example.com/start">Start</a>',
}


def test_a_trait_link_with_a_javascript_url_is_removed_from_the_preview(
    call_api: Call, marketer: str
) -> None:
    template_id = _create(call_api, marketer, SITE_LINK)["templateId"]
    reply = call_api(
        "POST",
        f"/marketing/templates/{template_id}/preview",
        body={"traits": {"website": " JavaScript:alert(document.cookie)"}},
        token=marketer,
    )
    assert reply.status == 200, reply.body
    preview = reply.json()
    assert "<p><a>Your site</a></p>" in preview["html"]
    assert "javascript" not in preview["html"].lower()
    assert preview["links"] == ["https://example.com/start"]
    assert preview["removedUrls"] == ["<a href> uses the scheme 'javascript'"]


def test_a_template_with_its_own_javascript_link_is_refused(call_api: Call, marketer: str) -> None:
    html = '<a href="jav&#x61;script:alert(1)">Click</a>'
    reply = call_api("POST", "/marketing/templates", body={**TEMPLATE, "html": html}, token=marketer)
    assert reply.status == 422
    assert reply.json()["errors"] == [
        {
            "field": "html",
            "message": "html: <a href> uses the scheme 'javascript'; "
            "links and images may use http, https, mailto, tel or be relative",
        }
    ]

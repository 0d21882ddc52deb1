"""The website's pure logic: form validation and progressive profiling, HTML escaping, allowed redirects,
slot and pop-up matching, page A/B assignment and decision, the page sandbox, the snippet's size."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from leadstream.errors import InvalidInput
from leadstream.profiles import IdentityRef, Profile
from website import experiments, pages, snippet, visitors
from website import forms as web_forms
from website.models import Audience, FormContent, PageTest, SlotVariant

FORM = FormContent.model_validate({
    "name": "Demo",
    "sourceId": "src",
    "fields": [
        {"name": "email", "label": "Email", "kind": "email", "required": True},
        {"name": "firstName", "label": "First name", "progressive": True},
        {"name": "company", "label": "Company", "progressive": True},
        {"name": "phone", "label": "Phone", "kind": "phone"},
        {"name": "size", "label": "Size", "kind": "select", "options": ["1-10", "11-50"]},
        {"name": "code", "label": "Code", "pattern": "[A-Z]{3}", "patternMessage": "three capitals"},
        {"name": "terms", "label": "Terms", "kind": "consent", "required": True},
        {"name": "source", "label": "source", "kind": "hidden", "value": "page"},
    ],
    "maxVisibleFields": 5,
})  # fmt: skip


def _names(fields: Any) -> list[str]:
    return [field.name for field in fields]


def test_an_unknown_visitor_is_asked_up_to_the_limit_required_fields_always() -> None:
    assert _names(web_forms.visible_fields(FORM, None)) == [
        "email", "firstName", "company", "phone", "size", "terms", "source",
    ]  # fmt: skip


def test_a_known_person_is_not_asked_what_we_know_and_later_fields_move_up() -> None:
    known = {"email": "a@example.com", "firstName": "Ada", "company": ""}
    assert _names(web_forms.visible_fields(FORM, known)) == [
        "company",
        "phone",
        "size",
        "code",
        "terms",
        "source",
    ]


def test_each_field_gets_its_own_error() -> None:
    posted = {"email": "nope", "phone": "12", "size": "huge", "code": "abc", "terms": ""}
    checked = web_forms.check(FORM.fields, posted)
    assert checked.errors == {
        "email": "enter an email address like name@example.com",
        "phone": "enter a phone number (digits, spaces, + and dashes)",
        "size": "choose one of the options",
        "code": "three capitals",
        "terms": "your consent is needed",
    }


def test_valid_values_are_cleaned_and_hidden_fields_are_the_forms_own() -> None:
    posted = {"email": " ada@example.com ", "phone": "+44 20 7946 0958", "size": "1-10", "code": "ABC",
              "terms": "on", "source": "forged", "firstName": ["Ada", "Augusta"]}  # fmt: skip
    checked = web_forms.check(FORM.fields, posted)
    assert checked.ok
    assert checked.values == {
        "email": "ada@example.com", "firstName": "Augusta", "phone": "+44 20 7946 0958", "size": "1-10",
        "code": "ABC", "terms": True, "source": "page",
    }  # fmt: skip


@pytest.mark.parametrize("value", [{"a": 1}, [[1]], None])
def test_values_that_are_not_text_are_an_error_not_a_crash(value: Any) -> None:
    checked = web_forms.check(FORM.fields, {"email": value, "terms": "on"})
    assert "email" in checked.errors


def test_the_form_html_escapes_values_labels_and_errors() -> None:
    evil = '"><script>alert(1)</script>'
    html = web_forms.render(
        FORM, "demo", action="/p/x", fields=FORM.fields, values={"email": evil}, errors={"email": evil},
        hidden={"page_url": evil},
    )  # fmt: skip
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") == 3
    assert 'aria-invalid="true"' in html


def test_forms_need_one_email_field_and_valid_patterns() -> None:
    base: dict[str, Any] = {"name": "x", "sourceId": "s"}
    with pytest.raises(ValidationError, match="exactly one field of kind email"):
        FormContent.model_validate({**base, "fields": [{"name": "a", "label": "A"}]})
    email = {"name": "e", "label": "E", "kind": "email"}
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        FormContent.model_validate({**base, "fields": [email, {"name": "a", "label": "A", "pattern": "("}]})
    with pytest.raises(ValidationError, match="needs options"):
        FormContent.model_validate({**base, "fields": [email, {"name": "a", "label": "A", "kind": "select"}]})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/p/thanks", True),
        ("//evil.example/x", False),
        ("/\\evil.example", False),
        ("https://www.example.com/thanks", True),
        ("https://shop.example.com/thanks", True),
        ("http://www.example.com/thanks", False),
        ("https://www.example.com.evil.net/", False),
        ("https://user@www.example.com/", False),
        ("javascript:alert(1)", False),
        ("https://anything.net/", False),
    ],
)
def test_thank_you_redirects_go_to_allowed_origins_only(url: str, allowed: bool) -> None:
    origins = ["https://www.example.com", "https://*.example.com", "*"]
    assert web_forms.redirect_allowed(url, origins) is allowed


def _visitor(**profile: Any) -> visitors.Visitor:
    segments = frozenset(profile.pop("segments", ()))
    if not profile:
        return visitors.Visitor("a-1", new=False, segments=segments)
    identities = [IdentityRef(kind="anon", value="a-1")]
    if profile.pop("known", False):
        identities.append(IdentityRef(kind="email", value="a@example.com"))
    person = Profile(profile_id="p-1", identities=identities, **profile)
    return visitors.Visitor("a-1", new=False, profile=person, segments=segments)


def test_the_first_matching_slot_variant_wins() -> None:
    variants = [
        SlotVariant(name="vip", audience=Audience(segment_id="vip"), html="x"),
        SlotVariant(name="pricing", audience=Audience(tag="interest:pricing"), html="x"),
        SlotVariant(name="leads", audience=Audience(stage="lead"), html="x"),
        SlotVariant(name="known", audience=Audience(known_only=True), html="x"),
    ]
    assert visitors.first_match(variants, _visitor()) is None
    assert visitors.first_match(variants, _visitor(known=True)).name == "known"  # type: ignore[union-attr]
    both = _visitor(known=True, tags=["interest:pricing"], stage="lead", segments={"vip"})
    assert visitors.first_match(variants, both).name == "vip"  # type: ignore[union-attr]
    assert visitors.first_match(variants, _visitor(stage="lead")).name == "leads"  # type: ignore[union-attr]


def test_anonymous_only_audiences_exclude_known_people() -> None:
    audience = Audience(anonymous_only=True)
    assert visitors.matches(audience, _visitor())
    assert not visitors.matches(audience, _visitor(known=True))


def test_the_visitor_id_reuses_analytics_js_cookies_old_and_new() -> None:
    assert visitors.visitor_id(["ajs_anonymous_id=abc-1"], None) == ("abc-1", False)
    assert visitors.visitor_id(["ajs_anonymous_id=%22abc-2%22"], None) == ("abc-2", False)
    assert visitors.visitor_id([], "given-3") == ("given-3", False)
    fresh, new = visitors.visitor_id(["ajs_anonymous_id=null"], None)
    assert new
    assert re.fullmatch(r"[0-9a-f-]{36}", fresh)


TEST = PageTest.model_validate({
    "variants": [{"name": "A", "weight": 1, "blocks": [{"kind": "text", "html": "a"}]},
                 {"name": "B", "weight": 3, "blocks": [{"kind": "text", "html": "b"}]}],
    "minSample": 100,
})  # fmt: skip


def test_assignment_is_sticky_and_follows_the_weights() -> None:
    picks = [experiments.assign("page", TEST, f"visitor-{n}").name for n in range(4000)]
    assert picks == [experiments.assign("page", TEST, f"visitor-{n}").name for n in range(4000)]
    assert 0.7 < picks.count("B") / len(picks) < 0.8


def test_the_decision_is_the_email_ab_z_test_no_winner_on_noise() -> None:
    noise = experiments.report(
        "p", TEST, {"views:A": 500, "conversions:A": 50, "views:B": 500, "conversions:B": 55}
    )
    assert noise.winner is None
    clear = experiments.report(
        "p", TEST, {"views:A": 500, "conversions:A": 50, "views:B": 500, "conversions:B": 110}
    )
    assert clear.winner == "B"
    assert clear.confidence is not None
    assert clear.confidence > 0.99
    small = experiments.report(
        "p", TEST, {"views:A": 20, "conversions:A": 0, "views:B": 20, "conversions:B": 20}
    )
    assert small.winner is None
    assert "too few" in small.reason


def test_pages_render_in_the_sandbox_with_escaped_traits() -> None:
    context = pages.visitor_context({"firstName": "<b>Ada</b>", "email": "secret@example.com"})
    html = str(pages.sandboxed("Hi {{ first_name }} {{ email | default('none') }}", context))
    assert html == "Hi &lt;b&gt;Ada&lt;/b&gt; none"  # escaped, and no email on a page
    with pytest.raises(InvalidInput):
        pages.check_template("template", "{{ ''.__class__.__mro__ }}")
    with pytest.raises(InvalidInput):
        pages.check_template("template", "{% include 'x' %}")
    dropped = str(
        pages.sandboxed('<a href="{{ traits.site }}">x</a>', pages.visitor_context({"site": "javascript:1"}))
    )
    assert "javascript" not in dropped


def test_pages_send_a_strict_content_security_policy() -> None:
    policy = pages.csp(["https://www.example.com"])
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "form-action 'self' https://www.example.com" in policy
    assert "frame-ancestors 'none'" in policy


def test_the_snippet_is_small_and_hand_written() -> None:
    assert snippet.gzipped_size() < 15 * 1024
    source = snippet.source()
    assert "ajs_anonymous_id" in source
    assert "declined" in source
    assert "import " not in source  # no modules, no build step


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from([f.name for f in FORM.fields] + ["other"]), JSON_VALUES))
def test_any_posted_values_give_errors_or_clean_text_never_a_crash(posted: dict[str, Any]) -> None:
    checked = web_forms.check(FORM.fields, posted)
    for name, value in checked.values.items():
        assert isinstance(value, str | bool), (name, value)
    html = web_forms.render(
        FORM, "demo", action="/p/x", fields=FORM.fields, values=posted, errors=checked.errors
    )
    assert "<script" not in html

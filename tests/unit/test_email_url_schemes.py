"""URLs in rendered emails: a trait used as a link or image never sends a scheme other than http, https,
mailto or tel; the attribute is removed, the element stays, and link tracking sees only what is left."""

from __future__ import annotations

from typing import Any

import pytest

from mail.html_links import drop_unsafe_urls, unsafe_scheme
from mail.link_tokens import LinkKeys, LinkSigner
from mail.links import instrument
from mail.rendering import RenderError, check, personalization, render
from mail.template_models import TemplateContent

LINK = TemplateContent(
    name="Site",
    subject="Your site",
    html='<p><a href="{{ traits.website }}">your site</a> <img src="{{ traits.logo }}" alt="logo" /></p>'
    '<p><a href="https://example.com/offer">offer</a></p>',
)
SIGNER = LinkSigner("https://t.example.com", LinkKeys.parse("unit-test-link-key-0123456789abcdef"))


def _render(content: TemplateContent, **traits: Any) -> Any:
    return render(content, personalization(traits, email="p@example.com", unsubscribe_url="https://t/u"))


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("javascript:alert(1)", "javascript"),
        ("JaVaScRiPt:alert(document.domain)", "javascript"),
        (" \t\njava\tscr\nipt:alert(1)", "javascript"),
        ("\x00\x01javascript:alert(1)", "javascript"),
        ("java\x0bscript:alert(1)", "javascript"),
        ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "data"),
        ("VBScript:MsgBox(1)", "vbscript"),
        ("file:///etc/passwd", "file"),
    ],
)
def test_a_trait_link_with_another_scheme_is_removed(url: str, scheme: str) -> None:
    parts = _render(LINK, website=url, logo=url)
    assert parts.html == (
        '<p><a>your site</a> <img alt="logo" /></p><p><a href="https://example.com/offer">offer</a></p>'
    )
    assert parts.removed_urls == (
        f"<a href> uses the scheme {scheme!r}",
        f"<img src> uses the scheme {scheme!r}",
    )
    assert parts.text == "your site\n\noffer (https://example.com/offer)\n"


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.example/?a=1&b=2",
        "http://acme.example",
        "mailto:ada@acme.example",
        "tel:+49301234567",
        "www.acme.example",  # no scheme: relative, goes nowhere harmful
        "#top",
        "&#106;avascript:alert(1)",  # escaped by the sandbox: the browser reads the characters, not a scheme
    ],
)
def test_a_trait_link_with_an_allowed_scheme_or_none_is_kept(url: str) -> None:
    parts = _render(LINK, website=url, logo="https://cdn.example/logo.png")
    assert parts.removed_urls == ()
    assert 'src="https://cdn.example/logo.png"' in parts.html


def test_an_attribute_smuggled_into_an_unquoted_value_is_checked_too() -> None:
    content = TemplateContent(name="x", subject="s", html="<a title={{ traits.title }}>x</a>")
    parts = _render(content, title="hi href=javascript:alert(1) src=data:x")
    assert parts.html == '<a title="hi">x</a>'
    assert parts.removed_urls == ("<a href> uses the scheme 'javascript'", "<a src> uses the scheme 'data'")


def test_tracking_rewrites_only_what_is_left() -> None:
    parts = _render(LINK, website="javascript:alert(1)", logo="")
    email = instrument(parts, signer=SIGNER, message_id="m-1", postal_address="1 Main St")
    assert email.links == ("https://example.com/offer",)
    assert "javascript" not in email.html
    assert "javascript" not in email.text


@pytest.mark.parametrize(
    ("html", "says"),
    [
        ('<a href="javascript:void(0)">x</a>', "<a href> uses the scheme 'javascript'"),
        ('<a href="&#106;avascript&colon;alert(1)">x</a>', "<a href> uses the scheme 'javascript'"),
        ('<img src="data:image/png;base64,iVBORw0KGgo=" />', "<img src> uses the scheme 'data'"),
        ('<a href="sms:+15551234">text us</a>', "<a href> uses the scheme 'sms'"),
        ('<table background="vbscript:x"><tr><td>x</td></tr></table>', "<table background> uses the scheme"),
        ('<img srcset="a.png 1x, javascript:x 2x" />', "<img srcset> uses the scheme 'javascript'"),
    ],
)
def test_a_template_that_writes_such_a_link_itself_is_refused_on_save(html: str, says: str) -> None:
    with pytest.raises(RenderError) as refused:
        check(TemplateContent(name="x", subject="s", html=html))
    message = refused.value.errors[0]["message"]
    assert message.startswith(f"html: {says}")
    assert message.endswith("links and images may use http, https, mailto, tel or be relative")


def test_links_in_comments_and_scripts_are_not_links() -> None:
    source = '<!-- <a href="javascript:x"> --><script>var a = "<a href=javascript:x>";</script>'
    assert drop_unsafe_urls(source) == (source, [])


@pytest.mark.parametrize("url", ["/relative", "?q=a:b", "foo/bar:baz", "", "  ", "https:x", "MAILTO:x"])
def test_relative_urls_and_allowed_schemes_have_no_unsafe_scheme(url: str) -> None:
    assert unsafe_scheme(url) is None

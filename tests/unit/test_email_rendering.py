"""Rendering templates in the sandbox, personalization fallbacks, and what every email carries."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest

from mail.link_tokens import LinkKeys, LinkKind, LinkSigner, verify
from mail.links import instrument
from mail.mime import MESSAGE_ID_HEADER, build_message
from mail.rendering import RenderError, check, personalization, render
from mail.template_models import TemplateContent

KEYS = LinkKeys.parse("unit-test-link-key-0123456789abcdef")
SIGNER = LinkSigner("https://t.example.com", KEYS)
GREETING = TemplateContent(
    name="Welcome",
    subject="Hi {{ first_name | default('there') }}",
    html="<html><body><p>Hello {{ first_name or 'there' }} at "
    "{{ traits.company.name | default('your team') }}</p></body></html>",
)


def _context(traits: dict[str, object], email_address: str | None = "p@example.com") -> dict[str, object]:
    return personalization(traits, email=email_address, unsubscribe_url="https://t.example.com/u")


def test_first_name_comes_from_the_traits() -> None:
    parts = render(GREETING, _context({"firstName": "Ada", "company": {"name": "Engines"}}))
    assert parts.subject == "Hi Ada"
    assert "Hello Ada at Engines" in parts.html


def test_missing_traits_fall_back() -> None:
    parts = render(GREETING, _context({}))
    assert parts.subject == "Hi there"
    assert "Hello there at your team" in parts.html


@pytest.mark.parametrize(
    ("traits", "first"),
    [
        ({"first_name": "Grace"}, "Grace"),
        ({"name": "Alan Turing"}, "Alan"),
        ({"firstName": "  "}, "there"),
        ({"firstName": 42}, "there"),
    ],
)
def test_first_name_sources_and_blank_values(traits: dict[str, object], first: str) -> None:
    assert render(GREETING, _context(traits)).subject == f"Hi {first}"


def test_traits_are_escaped_in_html_but_not_in_text() -> None:
    content = TemplateContent(name="x", subject="s", html="<p>{{ first_name }}</p>", text="{{ first_name }}")
    parts = render(content, _context({"firstName": "<script>alert(1)</script>"}))
    assert "<script>" not in parts.html
    assert "&lt;script&gt;" in parts.html
    assert parts.text == "<script>alert(1)</script>"


def test_the_text_part_is_made_from_the_html_when_missing() -> None:
    content = TemplateContent(
        name="x", subject="s", html="<h1>News</h1><p>See <a href='https://e.com/a'>the post</a></p>"
    )
    assert render(content, _context({})).text == "News\n\nSee the post (https://e.com/a)\n"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ traits.__class__ }}",
        "{{ traits['__class__'] }}",
        "{{ self._TemplateReference__context }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ range(10) }}",
        "{{ namespace() }}",
        "{% include 'other' %}",
        "{{ 2 ** 100 }}",
        "{{ '{0:>999999}'.format(1) }}",
        "{{ 'x' * 10000000 }}",
        "{{ '%999999d' % 1 }}",
        "{{ first_name | safe }}",
        "{{ first_name | center(99999) }}",
        "{{ traits.items.__globals__ }}",
    ],
)
def test_the_sandbox_refuses_unsafe_templates_on_save(source: str) -> None:
    content = TemplateContent(name="x", subject="s", html=f"<p>{source}</p>")
    with pytest.raises(RenderError) as refused:
        check(content)
    assert refused.value.status == 422
    assert refused.value.errors[0]["field"] == "html"


@pytest.mark.parametrize(
    "source",
    [
        "{{ traits.x | attr('__class__') }}",
        "{{ traits.items() | map(attribute='__class__') | list }}",
        "{% set f = 'format' %}{{ ''[f] }}",
        "{{ first_name.format_map({}) }}",
    ],
)
def test_the_sandbox_refuses_at_render_what_the_save_check_cannot_see(source: str) -> None:
    """Attribute names built at render time pass the static check; the sandbox still refuses them."""
    content = TemplateContent(name="x", subject="s", html=f"<p>{source}</p>")
    with pytest.raises(RenderError) as refused:
        render(content, _context({"firstName": "Ada", "x": "y"}))
    assert refused.value.status == 422


def test_a_syntax_error_names_the_part_and_line() -> None:
    content = TemplateContent(name="x", subject="s", html="<p>ok</p>\n<p>{{ broken </p>")
    with pytest.raises(RenderError) as refused:
        check(content)
    assert refused.value.errors == [{"field": "html", "message": refused.value.errors[0]["message"]}]
    assert "html, line 2" in refused.value.errors[0]["message"]


def test_an_empty_subject_is_refused() -> None:
    with pytest.raises(RenderError, match="subject"):
        render(TemplateContent(name="x", subject="{{ nothing }}", html="<p>x</p>"), _context({}))


def test_every_email_carries_tracking_footer_pixel_and_one_click_headers() -> None:
    content = TemplateContent(
        name="x",
        subject="Hello",
        html='<html><body><a href="https://e.com/a?x=1&amp;y=2">A</a> <a href="mailto:s@e.com">mail</a>'
        '<!-- <a href="https://e.com/hidden">no</a> --><a href="https://e.com/a?x=1&amp;y=2">again</a>'
        '<a data-no-track href="https://e.com/raw">raw</a></body></html>',
        text="Read https://e.com/b. Or https://e.com/a?x=1&y=2",
        preheader="Inside: {{ first_name }}",
    )
    parts = render(content, _context({"firstName": "Ada"}))
    sent = instrument(parts, signer=SIGNER, message_id="m-9", postal_address="1 Main St", sender_name="Acme")
    assert sent.links == ("https://e.com/a?x=1&y=2", "https://e.com/b")
    assert sent.html.count("https://t.example.com/email/click/") == 2
    assert 'href="mailto:s@e.com"' in sent.html
    assert 'href="https://e.com/raw"' in sent.html
    assert '<a href="https://e.com/hidden">' in sent.html  # inside a comment: untouched
    assert "1 Main St" in sent.html
    assert "1 Main St" in sent.text
    assert sent.unsubscribe_url in sent.html
    assert sent.unsubscribe_url in sent.text
    assert sent.html.index("Inside: Ada") < sent.html.index("https://t.example.com/email/click/")
    assert sent.html.rindex(sent.open_url) > sent.html.rindex(sent.unsubscribe_url)
    assert sent.text.startswith("Read https://t.example.com/email/click/")
    assert sent.headers == {
        "List-Unsubscribe": f"<{sent.unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    token = sent.text.split("https://t.example.com/email/click/", 2)[2].split()[0]
    assert verify(token, LinkKind.CLICK, KEYS).url == "https://e.com/a?x=1&y=2"


def test_the_mime_message_keeps_the_headers_unfolded() -> None:
    parts = render(GREETING, _context({"firstName": "Zoë"}))
    sent = instrument(parts, signer=SIGNER, message_id="m-1", postal_address="1 Main St")
    raw = build_message(
        sent,
        message_id="m-1",
        from_address="news@example.com",
        from_name="Acme News",
        to_address="p@example.com",
        at=datetime(2026, 1, 5, tzinfo=UTC),
        configuration_set="marketing",
    )
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["List-Unsubscribe"] == f"<{sent.unsubscribe_url}>"
    assert b"List-Unsubscribe: <https://" in raw  # one plain line, not RFC 2047 encoded words
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message[MESSAGE_ID_HEADER] == "m-1"
    assert message["X-SES-CONFIGURATION-SET"] == "marketing"
    assert message["Subject"] == "Hi Zoë"
    assert message["From"] == "Acme News <news@example.com>"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    assert sent.open_url in html_part.get_content()
    assert "1 Main St" in text_part.get_content()
    assert all(len(line) <= 998 for line in raw.splitlines())

"""Rendering templates in the sandbox, personalization fallbacks, and what every email carries."""

from __future__ import annotations

import email
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy

import pytest

from mail import rendering
from mail.link_tokens import LinkKeys, LinkKind, LinkSigner, verify
from mail.links import instrument
from mail.mime import MESSAGE_ID_HEADER, build_message
from mail.rendering import RenderError, check, personalization, render
from mail.template_limits import LimitExceeded, RenderBudget
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


# --- bounds in time and size (mail/template_limits.py) ----------------------------------------------------
THOUSAND = "[" + ", ".join(str(number) for number in range(1000)) + "]"


def _html(source: str, **parts: str) -> TemplateContent:
    return TemplateContent(name="x", subject=parts.pop("subject", "s"), html=source, **parts)


def _refusal(error: pytest.ExceptionInfo[RenderError]) -> str:
    assert error.value.status == 422
    ((problem,),) = [error.value.errors]
    return str(problem["message"])


@pytest.mark.parametrize(
    ("source", "says"),
    [
        (
            "{% for a in [1] %}" * 4 + "x" + "{% endfor %}" * 4,
            "html, line 1: loops are nested more than 3 deep",
        ),
        ("{{ [" + ", ".join(["1"] * 1001) + "] | length }}", "a literal list or dict has 1001 items"),
        ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "macro 'm' calls itself (m -> m)"),
        (
            "{% macro a() %}{{ b() }}{% endmacro %}\n"
            "{% macro b() %}{% call a() %}{% endcall %}{% endmacro %}",
            "macro 'a' calls itself (a -> b -> a)",
        ),
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "html: it is nested too deeply"),
    ],
)
def test_templates_past_the_static_limits_are_refused_on_save(source: str, says: str) -> None:
    with pytest.raises(RenderError) as refused:
        check(_html(source))
    assert says in _refusal(refused)


@pytest.fixture
def steps_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Renders whose clock stands still, so only the step budget can stop them. The wall-clock deadline has
    its own test on a fake clock; on a loaded machine it must not decide which limit a test sees first."""

    @dataclass
    class StepsOnly(RenderBudget):
        clock: Callable[[], float] = lambda: 0.0

    monkeypatch.setattr(rendering, "RenderBudget", StepsOnly)


def test_nested_loops_over_a_long_literal_list_stop_at_the_step_budget(steps_only: None) -> None:
    """Two loops over 1000 items each used to run for over a minute (a million iterations, no output)."""
    content = _html(f"{{% for a in {THOUSAND} %}}{{% for b in {THOUSAND} %}}{{% endfor %}}{{% endfor %}}")
    with pytest.raises(RenderError) as refused:
        check(content)
    assert "more than 20000 loop iterations and calls" in _refusal(refused)


@pytest.mark.parametrize(
    "source",
    [
        # a macro that reaches itself through an argument: no static check can see it
        "{% macro d(s, f) %}{{ f(s, f) }}{% endmacro %}{{ d('x', d) }}",
        # thirty macros each calling the next twice: 2**30 calls, none recursive
        "".join(
            f"{{% macro m{n}() %}}{{{{ m{n + 1}() }}}}{{{{ m{n + 1}() }}}}{{% endmacro %}}" for n in range(30)
        )
        + "{% macro m30() %}x{% endmacro %}{{ m0() }}",
    ],
)
def test_calls_are_bounded_at_render_too(source: str, steps_only: None) -> None:
    with pytest.raises(RenderError) as refused:
        render(_html(source), _context({}))
    assert "calls" in _refusal(refused)


@pytest.mark.parametrize(
    "source",
    [
        "{% set a = 'x' * 100000 %}" + "{% set a = a ~ a %}" * 30 + "{{ a | length }}",
        "{% set a = 'x' * 100000 %}" + "{% set a = a + a %}" * 30 + "{{ a | length }}",
        "{% set a = 'x' * 100000 %}{{ ([a] * 100000) | join }}",
        "{% set a = 'x' * 100000 %}{{ ''.join([a] * 100000) }}",
        "{{ ('x' * 100000).replace('x', 'y' * 100000) }}",
        "{{ ('x' * 100000) | replace('', 'y' * 1000) }}",
        "{% macro d(s, f) %}{{ f(s ~ s, f) }}{% endmacro %}{{ d('x' * 1000, d) }}",
    ],
)
def test_no_text_a_template_makes_may_pass_the_output_cap(source: str) -> None:
    """Each of these would build gigabytes before anything is output."""
    with pytest.raises(RenderError) as refused:
        render(_html(source), _context({}))
    assert "it makes a text of more than 524288 characters" in _refusal(refused)


@pytest.mark.parametrize(
    "source", ["{{ [1] | batch(10000000, 'x') | list }}", "{{ [1] | slice(10000000) | list }}"]
)
def test_batch_and_slice_sizes_are_bounded(source: str) -> None:
    with pytest.raises(RenderError) as refused:
        render(_html(source), _context({}))
    assert "a batch or slice count may be at most 100000" in _refusal(refused)


def test_a_loop_over_a_long_trait_list_fails_only_that_persons_email(steps_only: None) -> None:
    """The save check's sample has no such list, so the template is saved; the budget applies per person."""
    content = _html("{% for a in traits.plans %}{% for b in traits.plans %}{{ a }}{% endfor %}{% endfor %}")
    check(content)
    assert render(content, _context({"plans": [1, 2]})).html == "1122"
    with pytest.raises(RenderError) as refused:
        render(content, _context({"plans": list(range(1000))}))
    assert "more than 20000 loop iterations" in _refusal(refused)


def test_the_render_deadline_stops_a_slow_template() -> None:
    ticks = iter([0.0, 0.5, 1.5])
    budget = RenderBudget(clock=lambda: next(ticks))
    budget.spend()  # at 0.5 s of 1
    with pytest.raises(LimitExceeded, match="longer than 1 s"):
        budget.spend()


def test_templates_saved_before_the_static_limits_still_render() -> None:
    deep = _html("{% for a in [1] %}" * 4 + "x" + "{% endfor %}" * 4)
    assert render(deep, _context({})).html == "x"


def test_loops_calls_and_joins_render_as_before() -> None:
    html = (
        '{% macro row(p) %}<li>{{ p.name ~ " (" ~ p.price ~ ")" }}{{ caller() }}</li>{% endmacro %}'
        "<ul>{% for p in traits.products %}{% call row(p) %}"
        "{{ loop.index }}/{{ loop.length }} {{ loop.cycle('odd', 'even') }}{% endcall %}{% endfor %}</ul>"
        "{% for g in traits.products | batch(2, '-') %}[{% for x in g %}{{ x.name or x }}{% endfor %}]"
        "{% endfor %} {{ traits.products | join(', ', attribute='name') }}"
        "{% for n in traits.tree recursive %}<{{ n.name }}>{{ loop(n.children) if n.children }}{% endfor %}"
        "{{ '<b>' ~ first_name }} {{ first_name.replace('A', 'a') }} {{ ', '.join(['x', 'y']) }}"
        " {{ [1] + [2] }}"
    )
    products = [{"name": "A", "price": 1}, {"name": "B", "price": 2}, {"name": "C", "price": 3}]
    tree = [{"name": "r", "children": [{"name": "c1"}, {"name": "c2", "children": [{"name": "g"}]}]}]
    content = _html(html, subject="Hi {{ first_name ~ '!' }}")
    check(content)
    parts = render(content, _context({"firstName": "Ada<", "products": products, "tree": tree}))
    assert parts.subject == "Hi Ada<!"
    assert parts.html == (
        "<ul><li>A (1)1/3 odd</li><li>B (2)2/3 even</li><li>C (3)3/3 odd</li></ul>[AB][C-] A, B, C"
        "<r><c1><c2><g>&lt;b&gt;Ada&lt; ada&lt; x, y [1, 2]"
    )

"""Rendering a template for one person, in a sandbox.

Templates are Jinja2, written by marketing users and filled with profile traits that visitors typed into
forms, so both sides are untrusted:

- The environment is Jinja2's immutable sandbox, stricter still: an unsafe attribute (`__class__`,
  `_private`, `str.format`) raises instead of rendering empty; templates cannot include or import others;
  the globals that allocate or loop (`range`, `lipsum`, `cycler`, `joiner`, `namespace`) and the filters
  that pad to a given width (`center`, `indent`, `format`) are gone, `*`, `%` and `**` are bounded; the
  rendered text is capped. `safe` is gone too, so a trait can never inject HTML: the HTML part escapes.
- `check` refuses such templates when they are saved (422, naming the part and line); the same rules apply
  again at render time, for anything that gets past the check.
- Time and size are bounded (mail/template_limits.py): static limits on save (loop nesting, literal sizes,
  macro recursion), and for every rendered email a budget of loop iterations and calls, a deadline, and
  a size check on every text or list a template makes. Past a bound, saving or previewing is a 422 that
  says which; a send fails that one message.
- A URL attribute of the HTML part whose scheme is not http, https, mailto or tel (a trait
  `javascript:...` used as a link) is removed after rendering (mail/html_links.py); on save, a template
  that writes such a link itself is refused.

Personalization: `traits` holds the profile's traits; `first_name`, `last_name`, `name`, `company` and
`email` are set when known, so `{{ first_name | default("there") }}` falls back cleanly (any missing
attribute chain, `traits.company.name`, is simply undefined).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from leadstream.caches import container_cache
from leadstream.errors import InvalidInput
from mail.html_links import ALLOWED_SCHEMES, UncheckableLink, drop_unsafe_urls
from mail.html_text import to_text
from mail.template_limits import (
    MAX_RENDERED_CHARS,
    MAX_SEQUENCE_ITEMS,
    LimitExceeded,
    RenderBudget,
    bound_filters,
    check_concat,
    check_size,
    check_sum,
    checked_call_args,
    static_problems,
)

if TYPE_CHECKING:
    from jinja2 import Environment, Template, nodes
    from jinja2.compiler import CodeGenerator

    from mail.template_models import TemplateContent

MAX_FORMAT_WIDTH = 1000
# Where a render's RenderBudget sits in the template context: templates cannot name it (names starting
# with "_" are refused), only the sandbox reads it.
BUDGET = "__render_budget"
ALLOWED_URLS = f"links and images may use {', '.join(sorted(ALLOWED_SCHEMES))} or be relative"
PARTS = ("subject", "preheader", "html", "text")
REMOVED_GLOBALS = ("range", "lipsum", "cycler", "joiner", "namespace")
REMOVED_FILTERS = ("center", "indent", "format", "safe", "random")
UNSAFE_STR_METHODS = frozenset({"format", "format_map", "center", "ljust", "rjust", "zfill", "expandtabs"})
_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")

# A profile with typical traits, for the test render that runs when a template is saved.
SAMPLE_TRAITS: dict[str, Any] = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "company": "Analytical Engines",
    "title": "Engineer",
    "plan": "pro",
}


class RenderError(InvalidInput):
    """The template cannot be rendered (refused by the sandbox, or an error in it): a 422."""

    def __init__(self, part: str, message: str, line: int | None = None, *, refused: bool = True) -> None:
        # refused: the template itself is not allowed (syntax, sandbox); else it failed on this data only.
        self.refused = refused
        where = f"{part}, line {line}" if line else part
        super().__init__(
            f"The template's {part} cannot be rendered: {message}",
            errors=[{"field": part, "message": f"{where}: {message}"}],
        )


@dataclass(frozen=True)
class RenderedParts:
    subject: str
    preheader: str | None
    html: str
    text: str
    # URL attributes removed from the HTML for a scheme that is not allowed (mail/html_links.py), in words.
    removed_urls: tuple[str, ...] = ()


@container_cache
def _environment(autoescape: bool) -> Environment:
    class EmailSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "%", "**", "+"})
        code_generator_class = _bounded_code_generator()

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            if isinstance(obj, str) and attr in UNSAFE_STR_METHODS:
                return False
            return bool(super().is_safe_attribute(obj, attr, value))

        def wrap_str_format(self, value: Any) -> None:
            # The stock sandbox hands out a sandboxed str.format before checking the attribute; formats can
            # pad to any width, so they are refused like any other unsafe attribute.
            return None

        def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
            # The stock sandbox renders an unsafe attribute as empty; refusing says what is wrong.
            raise SecurityError(f"{attribute!r} is not available in email templates")

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_binop(operator, left, right, SecurityError)
            return super().call_binop(context, operator, left, right)

        def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
            # Every call in a template (a macro, a method, `loop()`) spends one step of the budget.
            _budget(context).spend()
            return check_size(super().call(context, obj, *checked_call_args(obj, args), **kwargs))

        @pass_context
        def counted_loop(self, context: Any, iterable: Any) -> Any:
            """What every `for` iterates (see `_count_loops`): each item spends one step."""
            return _budget(context).loop(iterable)

        @staticmethod
        def checked_concat(parts: Sequence[Any]) -> Sequence[Any]:
            return check_concat(parts)

    env = EmailSandbox(autoescape=autoescape, undefined=ChainableUndefined, keep_trailing_newline=True)
    for name in REMOVED_GLOBALS:
        env.globals.pop(name, None)
    for name in REMOVED_FILTERS:
        env.filters.pop(name, None)
    bound_filters(env.filters)
    return env


def _bounded_code_generator() -> type[CodeGenerator]:
    class BoundedCodeGenerator(CodeGenerator):
        """Compiles `a ~ b` as Jinja does, except that the parts' total length is checked before they are
        joined (`environment.checked_concat`): a few concatenations could otherwise double a text until
        memory runs out."""

        @optimizeconst
        def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
            if frame.eval_ctx.volatile:
                join = "(markup_join if context.eval_ctx.volatile else str_join)"
            elif frame.eval_ctx.autoescape:
                join = "markup_join"
            else:
                join = "str_join"
            self.write(f"{join}(environment.checked_concat((")
            for part in node.nodes:
                self.visit(part, frame)
                self.write(", ")
            self.write(")))")

    return BoundedCodeGenerator


def _budget(context: Any) -> RenderBudget:
    budget = context.get(BUDGET)
    if not isinstance(budget, RenderBudget):
        raise RuntimeError("a template was rendered without a budget")  # a bug: `render` always sets one
    return budget


def _check_binop(operator: str, left: Any, right: Any, error: type[Exception]) -> None:
    if operator == "**":
        raise error("the ** operator is not available in email templates")
    if operator == "*":
        sequence, count = (left, right) if isinstance(right, int) else (right, left)
        repeated = isinstance(sequence, str | list | tuple) and isinstance(count, int)
        if repeated and len(sequence) * count > MAX_SEQUENCE_ITEMS:
            raise error(f"repeating text or a list may make at most {MAX_SEQUENCE_ITEMS} items")
    if operator == "+":
        check_sum(left, right)
    if operator == "%" and isinstance(left, str):
        for width, precision in _FORMAT_WIDTH.findall(left):
            for number in (width, precision):
                if number == "*" or (number and int(number) > MAX_FORMAT_WIDTH):
                    raise error(f"a % format width may be at most {MAX_FORMAT_WIDTH}")


def _sources(content: TemplateContent) -> dict[str, str | None]:
    return {
        "subject": content.subject,
        "preheader": content.preheader,
        "html": content.html,
        "text": content.text,
    }


@contextmanager
def _refused_as(part: str) -> Iterator[None]:
    """Parsing and compiling errors as RenderError (422), naming the part and line."""
    try:
        yield
    except TemplateSyntaxError as exc:
        raise RenderError(part, exc.message or "syntax error", exc.lineno) from None
    except TemplateError as exc:
        raise RenderError(part, str(exc)) from None
    except RecursionError:
        raise RenderError(part, "it is nested too deeply") from None


def _parse(part: str, source: str) -> nodes.Template:
    """The template's syntax tree, refusing what the sandbox does not allow."""
    with _refused_as(part):
        tree = _environment(part == "html").parse(source)
        _refuse_unsafe_nodes(part, tree)
    return tree


def _compile(part: str, source: str) -> Template:
    """Parse, refuse what the sandbox does not allow, count loops against the budget, compile."""
    env = _environment(part == "html")
    tree = _parse(part, source)
    with _refused_as(part):
        _count_loops(env, tree)
        return env.from_string(tree)


def _count_loops(env: Environment, tree: nodes.Template) -> None:
    """Make every `for` iterate `environment.counted_loop(<its iterable>)`: each item spends one step of
    the render's budget, however the loop is written (filters, `loop` variables, `recursive`)."""
    for loop in list(tree.find_all(nodes.For)):
        counted = nodes.Call(nodes.EnvironmentAttribute("counted_loop"), [loop.iter], [], None, None)
        loop.iter = counted.set_lineno(loop.iter.lineno).set_environment(env)


def _refuse_unsafe_nodes(part: str, tree: nodes.Template) -> None:
    for node in tree.find_all(nodes.Node):
        line = getattr(node, "lineno", None)
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise RenderError(part, f"attribute {node.attr!r} is not available", line)
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            key = node.arg.value
            if isinstance(key, str) and key.startswith("_"):
                raise RenderError(part, f"item {key!r} is not available", line)
        if isinstance(node, nodes.Name) and (node.name.startswith("_") or node.name in REMOVED_GLOBALS):
            raise RenderError(part, f"{node.name!r} is not available", line)
        if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            raise RenderError(part, "templates cannot include, import or extend other templates", line)
        if isinstance(node, nodes.Pow):
            raise RenderError(part, "the ** operator is not available", line)


def _render(part: str, template: Template, context: Mapping[str, Any]) -> str:
    pieces: list[str] = []
    size = 0
    try:
        for piece in template.generate(context):
            size += len(piece)
            if size > MAX_RENDERED_CHARS:
                raise RenderError(part, f"it renders to more than {MAX_RENDERED_CHARS} characters")
            pieces.append(piece)
    except RenderError:
        raise
    except LimitExceeded as exc:
        raise RenderError(part, str(exc), _template_line(exc)) from None
    except RecursionError as exc:
        message = "it nests calls too deeply (a macro that calls itself?)"
        raise RenderError(part, message, _template_line(exc)) from None
    except SecurityError as exc:
        raise RenderError(part, str(exc) or "not allowed", _template_line(exc)) from None
    except TemplateError as exc:  # UndefinedError: a value this person does not have
        raise RenderError(part, str(exc) or type(exc).__name__, _template_line(exc), refused=False) from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        raise RenderError(part, message, _template_line(exc), refused=False) from None
    return "".join(pieces)


def _template_line(exc: BaseException) -> int | None:
    """The template line an error happened on (Jinja maps its frames to template lines)."""
    line = getattr(exc, "lineno", None)
    if isinstance(line, int):
        return line
    trace = exc.__traceback__
    found = None
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            found = trace.tb_lineno
        trace = trace.tb_next
    return found


def check(content: TemplateContent) -> None:
    """Refuse a template that does not parse, uses what the sandbox forbids, breaks a static limit
    (mail/template_limits.py), or fails a test render with a typical profile. An error that depends on the
    data (a trait the sample does not have) is not refused here: it fails only the emails of people without
    that value, and the preview shows it."""
    for part, source in _sources(content).items():
        if source is not None:
            _refuse_past_static_limits(part, _parse(part, source))
    sample = personalization(SAMPLE_TRAITS, email="ada@example.com", unsubscribe_url="https://example.com/u")
    try:
        parts = render(content, sample)
    except RenderError as exc:
        if exc.refused:
            raise
        return
    if parts.removed_urls:  # the sample's traits hold no URL: the template wrote this one itself
        raise RenderError("html", f"{parts.removed_urls[0]}; {ALLOWED_URLS}")


def _refuse_past_static_limits(part: str, tree: nodes.Template) -> None:
    with _refused_as(part):
        problems = static_problems(tree)
    if problems:
        message, line = problems[0]
        raise RenderError(part, message, line)


def render(content: TemplateContent, context: Mapping[str, Any]) -> RenderedParts:
    """Every part of the template rendered with `context` (see `personalization`), within one budget."""
    compiled = {
        part: _compile(part, source) for part, source in _sources(content).items() if source is not None
    }
    budgeted = {**context, BUDGET: RenderBudget()}  # its clock starts once every part is compiled
    rendered = {part: _render(part, template, budgeted) for part, template in compiled.items()}
    html, removed_urls = _safe_urls(rendered.get("html", ""))
    text = rendered["text"] if "text" in rendered else html_to_text(html)
    subject = " ".join(rendered.get("subject", "").split())  # a header is one line
    preheader = " ".join(rendered["preheader"].split()) if rendered.get("preheader") else None
    if not subject:
        raise RenderError("subject", "it renders empty")
    return RenderedParts(
        subject=subject, preheader=preheader, html=html, text=text, removed_urls=tuple(removed_urls)
    )


def _safe_urls(html: str) -> tuple[str, list[str]]:
    """The HTML without URL attributes of a scheme that is not allowed, and what was removed."""
    try:
        return drop_unsafe_urls(html)
    except UncheckableLink as exc:
        raise RenderError("html", str(exc)) from None


def personalization(traits: Mapping[str, Any], *, email: str | None, unsubscribe_url: str) -> dict[str, Any]:
    """The variables a template sees. Missing values are left out, so `default` and `or` fall back."""
    first = _text(traits.get("firstName")) or _text(traits.get("first_name"))
    last = _text(traits.get("lastName")) or _text(traits.get("last_name"))
    name = _text(traits.get("name")) or " ".join(part for part in (first, last) if part) or None
    if first is None and name:
        first = name.split()[0]
    company = traits.get("company")
    company_name = _text(company.get("name")) if isinstance(company, Mapping) else _text(company)
    known = {
        "first_name": first,
        "last_name": last,
        "name": name,
        "company": company_name,
        "email": email,
    }
    return {
        **{key: value for key, value in known.items() if value},
        "traits": dict(traits),
        "unsubscribe_url": unsubscribe_url,
    }


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def html_to_text(html: str) -> str:
    """A readable plain-text part from HTML: text with line breaks at blocks, links as `text (url)`."""
    return to_text(html)

"""What rendering one email may cost: bounds in time and size for templates written by users.

A template is rendered for every recipient, so none may run long, recurse or build huge values (one with
two nested loops over a long literal list used to block the email API for over a minute):

- Static limits, checked when a template is saved (`static_problems`): loops nested at most
  MAX_LOOP_NESTING deep, literal lists and dicts of at most MAX_LITERAL_ITEMS items, no macro that calls
  itself, directly or through other macros. Templates saved before these limits keep rendering: the budget
  below bounds them at render time.
- A budget per rendered email (`RenderBudget`), shared by its parts: at most MAX_RENDER_STEPS loop
  iterations and calls (macros, methods, `loop()`), and RENDER_SECONDS of wall-clock time, checked at each.
- Sizes (`check_size`, `check_concat`, `check_call`): no text or list a template makes may pass the output
  cap, refused before it is built where it would grow (`~`, `+`, `join`, `str.replace`).

Every bound raises `LimitExceeded`; mail/rendering.py turns it into a RenderError (a 422 on save and
preview, one failed message when sending). docs/email.md lists the limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2 import nodes

if TYPE_CHECKING:
    from jinja2 import nodes

MAX_LOOP_NESTING = 3
MAX_LITERAL_ITEMS = 1000
MAX_RENDER_STEPS = 20_000
RENDER_SECONDS = 1.0
MAX_RENDERED_CHARS = 512 * 1024  # a part's output, and any text a template makes on the way
MAX_SEQUENCE_ITEMS = 100_000  # any list a template makes (`*`, `+`, batch, slice)


class LimitExceeded(Exception):
    """A template went past one of the bounds above; the message says which, in a marketer's words."""


# --- static limits (on save) ----------------------------------------------------------------------------
def static_problems(tree: nodes.Template) -> list[tuple[str, int | None]]:
    """(message, line) for each static limit the parsed template breaks."""
    return [*_nesting_problems(tree), *_literal_problems(tree), *_recursion_problems(tree)]


def _nesting_problems(tree: nodes.Template) -> list[tuple[str, int | None]]:
    def deepest(node: nodes.Node, depth: int) -> Iterator[tuple[int, nodes.Node]]:
        for child in node.iter_child_nodes():
            inner = depth + 1 if isinstance(child, nodes.For) else depth
            yield inner, child
            yield from deepest(child, inner)

    for depth, node in deepest(tree, 0):
        if depth > MAX_LOOP_NESTING:
            message = f"loops are nested more than {MAX_LOOP_NESTING} deep; flatten the template"
            return [(message, node.lineno)]
    return []


def _literal_problems(tree: nodes.Template) -> list[tuple[str, int | None]]:
    literals: list[nodes.List | nodes.Tuple | nodes.Dict] = [
        *tree.find_all(nodes.List),
        *tree.find_all(nodes.Tuple),
        *tree.find_all(nodes.Dict),
    ]
    return [
        (f"a literal list or dict has {len(node.items)} items; the limit is {MAX_LITERAL_ITEMS}", node.lineno)
        for node in literals
        if len(node.items) > MAX_LITERAL_ITEMS
    ]


def _recursion_problems(tree: nodes.Template) -> list[tuple[str, int | None]]:
    """Macros that call themselves, directly or through other macros of the template."""
    macros = {macro.name: macro for macro in tree.find_all(nodes.Macro)}
    calls = {
        name: {
            call.node.name
            for call in macro.find_all(nodes.Call)
            if isinstance(call.node, nodes.Name) and call.node.name in macros
        }
        for name, macro in macros.items()
    }
    for name, macro in macros.items():
        cycle = _cycle_from(name, calls)
        if cycle:
            path = " -> ".join(cycle)
            return [(f"macro {name!r} calls itself ({path}); recursion is not available", macro.lineno)]
    return []


def _cycle_from(start: str, calls: Mapping[str, set[str]]) -> list[str] | None:
    """The first call path from `start` back to itself (depth-first), or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for callee in sorted(calls.get(name, ())):
            if callee == start:
                return [*path, start]
            if callee not in seen:
                seen.add(callee)
                stack.append((callee, [*path, callee]))
    return None


# --- the budget of one rendered email ---------------------------------------------------------------------
@dataclass
class RenderBudget:
    """Loop iterations and calls left, and the moment rendering must have ended. One per email."""

    steps: int = MAX_RENDER_STEPS
    seconds: float = RENDER_SECONDS
    clock: Callable[[], float] = time.monotonic
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.seconds

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise LimitExceeded(
                f"it takes more than {MAX_RENDER_STEPS} loop iterations and calls to render "
                "(long or nested loops, macros calling macros)"
            )
        if self.clock() > self.deadline:
            raise LimitExceeded(f"it takes longer than {RENDER_SECONDS:g} s to render")

    def loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.spend()
            yield item


# --- sizes ------------------------------------------------------------------------------------------------
def check_size(value: Any) -> Any:
    """`value` unchanged, unless it is text or a list past the limits."""
    if isinstance(value, str):
        _check_text_length(len(value))
    elif isinstance(value, list | tuple):
        _check_item_count(len(value))
    return value


def check_concat(parts: Sequence[Any]) -> Sequence[Any]:
    """The parts of `a ~ b ~ ...`, unless joining them would pass the text limit."""
    _check_text_length(sum(len(str(part)) for part in parts))
    return parts


def check_sum(left: Any, right: Any) -> None:
    """`left + right` of two texts or two lists, unless the result would pass the limits."""
    if isinstance(left, str) and isinstance(right, str):
        _check_text_length(len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        _check_item_count(len(left) + len(right))


def check_join(items: Iterable[Any], separator: object = "") -> list[Any]:
    """The items of a join as a list (an iterator is consumed: join this list instead), unless the joined
    text would pass the limit."""
    listed = list(items)
    _check_text_length(sum(len(str(item)) for item in listed) + len(str(separator)) * len(listed))
    return listed


def check_replace(text: str, old: str, new: str) -> None:
    """`text.replace(old, new)`, unless the result would pass the text limit (an empty `old` matches
    between every two characters)."""
    matches = text.count(old) if old else len(text) + 1
    _check_text_length(len(text) + max(0, len(new) - len(old)) * matches)


def checked_call_args(obj: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments to call `obj` with: a str method that would grow text past the limit is refused
    before it builds it (`str.join` gets its items as a list, already consumed to measure them)."""
    text = getattr(obj, "__self__", None)
    if not isinstance(text, str) or not args:
        return args
    name = getattr(obj, "__name__", "")
    if name == "join":
        return (check_join(args[0], text), *args[1:])
    if name == "replace" and len(args) >= 2:
        check_replace(text, str(args[0]), str(args[1]))
    return args


def check_count(count: object) -> None:
    """A filter's size argument (`batch` rows, `slice` columns): at most a list's limit."""
    if isinstance(count, int) and count > MAX_SEQUENCE_ITEMS:
        raise LimitExceeded(f"a batch or slice count may be at most {MAX_SEQUENCE_ITEMS}")


# --- the filters that could grow a value past the limits --------------------------------------------------
def bound_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Wrap, in place, the filters that grow text or lists, so they check their result's size first."""
    checks: dict[str, Callable[[tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]] = {
        "replace": _replace_args,
        "join": _join_args,
        "batch": lambda args, kwargs: _count_args("linecount", args, kwargs),
        "slice": lambda args, kwargs: _count_args("slices", args, kwargs),
    }
    for name, check in checks.items():
        filters[name] = _checked_filter(filters[name], check)


def _checked_filter(
    filter_: Callable[..., Any], check: Callable[[tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]
) -> Callable[..., Any]:
    """`filter_`, calling `check` first with the filter's own arguments (not the context Jinja passes
    first to some filters); `check` returns them, possibly replaced, or raises LimitExceeded."""
    pass_arg = getattr(filter_, "jinja_pass_arg", None)

    def checked(*args: Any, **kwargs: Any) -> Any:
        passed, own = (args[:1], args[1:]) if pass_arg is not None else ((), args)
        return filter_(*passed, *check(own, kwargs), **kwargs)

    if pass_arg is not None:
        checked.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return checked


def _replace_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    text, old, new = (*args, kwargs.get("old", ""), kwargs.get("new", ""))[:3]
    check_replace(str(text), str(old), str(new))
    return args


def _join_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """A join of an attribute of each item is measured by the whole items: never less than the result."""
    value, *rest = args
    separator = rest[0] if rest else kwargs.get("d", "")
    return (check_join(value, separator), *rest)


def _count_args(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    check_count(args[1] if len(args) > 1 else kwargs.get(name))
    return args


def _check_text_length(length: int) -> None:
    if length > MAX_RENDERED_CHARS:
        raise LimitExceeded(f"it makes a text of more than {MAX_RENDERED_CHARS} characters")


def _check_item_count(count: int) -> None:
    if count > MAX_SEQUENCE_ITEMS:
        raise LimitExceeded(f"it makes a list of more than {MAX_SEQUENCE_ITEMS} items")

"""API Gateway HTTP API route selection, for the routes the template declares.

The rules API Gateway applies: `{name}` matches exactly one non-empty path segment, `{name+}` (greedy)
matches the rest of the path (one segment or more) and may only end a route. A route without a greedy
variable beats one with it; among those, a literal segment beats a parameter, left to right. The method
must match (`ANY` matches every method; an explicit method beats `ANY` on the same path). `$default`
catches what nothing else matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from leadstream_local.template import DEFAULT_ROUTE, HttpRoute

LITERAL, PARAMETER, GREEDY = 2, 1, 0


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        return self.route.route_key


@dataclass(frozen=True)
class _Segment:
    kind: int
    text: str  # the literal, or the parameter's name

    @classmethod
    def parse(cls, text: str) -> _Segment:
        if text.startswith("{") and text.endswith("}"):
            name = text[1:-1]
            if name.endswith("+"):
                return cls(GREEDY, name[:-1])
            return cls(PARAMETER, name)
        return cls(LITERAL, text)


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    segments: tuple[_Segment, ...]

    @classmethod
    def compile(cls, route: HttpRoute) -> _CompiledRoute:
        segments = tuple(_Segment.parse(part) for part in route.path.strip("/").split("/") if part)
        if any(segment.kind == GREEDY for segment in segments[:-1]):
            raise ValueError(f"{route.route_key}: a greedy path variable must be the last segment")
        return cls(route, segments)

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        if self.route.method not in ("ANY", method):
            return None
        parameters: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.kind == GREEDY:
                rest = parts[index:]
                if not rest or not any(rest):
                    return None
                parameters[segment.text] = unquote("/".join(rest))
                return parameters
            if index >= len(parts) or not parts[index]:
                return None
            if segment.kind == LITERAL:
                if unquote(parts[index]) != segment.text:
                    return None
            else:
                parameters[segment.text] = unquote(parts[index])
        return parameters if len(parts) == len(self.segments) else None

    def specificity(self) -> tuple[bool, tuple[int, ...], bool]:
        """Larger is more specific: a full match over a greedy one, then segment kinds left to right,
        then an explicit method over ANY."""
        kinds = tuple(segment.kind for segment in self.segments)
        return GREEDY not in kinds, kinds, self.route.method != "ANY"


class Router:
    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        routes = list(routes)
        self._default = [route for route in routes if route.path == DEFAULT_ROUTE]
        compiled = [_CompiledRoute.compile(route) for route in routes if route.path != DEFAULT_ROUTE]
        # Most specific first, so the first match wins.
        self._routes = sorted(compiled, key=_CompiledRoute.specificity, reverse=True)

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The route API Gateway would pick for `method` and the raw (still percent-encoded) `path`."""
        method = method.upper()
        parts = path.split("?", 1)[0].split("/")[1:] if path.startswith("/") else []
        if parts == [""]:
            parts = []  # the root path "/"
        for candidate in self._routes:
            parameters = candidate.match(method, parts)
            if parameters is not None:
                return RouteMatch(candidate.route, parameters)
        for route in self._default:
            if route.method in ("ANY", method):
                return RouteMatch(route, {})
        return None

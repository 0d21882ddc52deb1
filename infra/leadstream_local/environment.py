"""Per-function environment variables for functions that share one process.

In AWS every function has its own environment. Locally all functions run in one process, so variables
whose value is the same for every function are set in `os.environ` once, and the few that differ (such as
POWERTOOLS_SERVICE_NAME) are layered on top for the duration of one invocation, in the invoking thread
only. The layer works by giving `os.environ` a subclass that consults a context variable first; that keeps
`os.environ`, `os.getenv` and `from os import environ` consistent, and other threads unaffected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_layer: ContextVar[Mapping[str, str] | None] = ContextVar("leadstream_local_env_layer", default=None)


class _LayeredEnviron(os._Environ[str]):
    """os.environ, with the current context's layer (if any) shadowing the process-wide values."""

    def __getitem__(self, key: str) -> str:
        layer = _layer.get()
        if layer is not None and key in layer:
            return layer[key]
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        layer = _layer.get()
        if layer is None:
            yield from super().__iter__()
            return
        yield from layer
        yield from (key for key in super().__iter__() if key not in layer)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def install() -> None:
    """Make os.environ honour layers (idempotent). Without a layer it behaves exactly as before."""
    environ: Any = os.environ
    environ.__class__ = _LayeredEnviron


def uninstall() -> None:
    environ: Any = os.environ
    environ.__class__ = os._Environ


@contextmanager
def layered(variables: Mapping[str, str]) -> Iterator[None]:
    """Within this block, in this thread, `variables` override the process environment."""
    token = _layer.set(dict(variables) if variables else None)
    try:
        yield
    finally:
        _layer.reset(token)


def split_shared(
    per_function: Mapping[str, Mapping[str, str]],
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(variables to set process-wide, the per-function layers).

    A variable goes process-wide when every function that declares it gives it the same value; the union
    of those is set. A variable with different values in different functions goes into each declaring
    function's layer instead.
    """
    values: dict[str, set[str]] = {}
    for variables in per_function.values():
        for key, value in variables.items():
            values.setdefault(key, set()).add(value)
    conflicting = {key for key, seen in values.items() if len(seen) > 1}
    shared = {key: next(iter(seen)) for key, seen in values.items() if key not in conflicting}
    layers = {
        name: {key: value for key, value in variables.items() if key in conflicting}
        for name, variables in per_function.items()
    }
    return shared, layers

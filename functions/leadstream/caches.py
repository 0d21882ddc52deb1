"""Per-container caches, one strategy: what a Lambda container keeps between invocations.

- `container_cache`: a function's result per distinct arguments, kept for the container's life (AWS
  clients, parsed settings, immutable documents). A cached value that depends on configuration takes that
  configuration as an argument, so it is part of the key.
- `ContainerDict`: values whose freshness their reader checks itself (against a revision it reads).
- `TtlCache`: values read from storage (sources, scoring rules, segment definitions...) kept for at most
  `max_age` seconds of the clock the caller passes, per key. A key names the configuration it was read
  with (the table, the user pool), not only the thing.

Both register themselves when they are created, so `clear_all()` clears every one of them. Tests and the
local stack host many "containers" in one process, each against its own moto, and clear everything
between them. In the local stack every function also shares these caches: keying by configuration is what
keeps one function's value from reaching another function configured differently.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Protocol

DEFAULT_MAX_ENTRIES = 1024


class _Clearable(Protocol):
    def clear(self) -> None: ...


_registry: weakref.WeakSet[_Clearable] = weakref.WeakSet()


def clear_all() -> None:
    """Forget everything every cache holds (a new container, as far as our code can tell)."""
    for cache in list(_registry):
        cache.clear()


class FunctionCache[**P, R]:
    """A function whose result is kept per distinct arguments (`functools.cache`), registered for
    `clear_all`. Arguments must be hashable."""

    def __init__(self, function: Callable[P, R]) -> None:
        self._cached = functools.cache(function)
        functools.update_wrapper(self, function)
        _registry.add(self)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._cached(*args, **kwargs)  # type: ignore[arg-type]  # hashable, as documented

    def clear(self) -> None:
        self._cached.cache_clear()


def container_cache[**P, R](function: Callable[P, R]) -> FunctionCache[P, R]:
    """Decorator: keep the function's result per distinct arguments for the container's life."""
    return FunctionCache(function)


class ContainerDict[K: Hashable, V]:
    """Values per key kept for the container's life, registered for `clear_all`: for values a caller
    checks for freshness itself (segment definitions, against their registry's revision). Key it by the
    configuration the value was read with, like every cache here."""

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        _registry.add(self)

    def get(self, key: K) -> V | None:
        return self._values.get(key)

    def __setitem__(self, key: K, value: V) -> None:
        self._values[key] = value

    def clear(self) -> None:
        self._values.clear()


class TtlCache[K: Hashable, V]:
    """Values per key, each kept for at most the `max_age` its reader asks (a function whose environment
    says 10 s does not get another's 60 s old value). Bounded: past `max_entries` the oldest insertion goes
    (a flood of unknown keys stays cheap). `now` is the clock ages are measured by; an entry stamped later
    than `now` says (the clock went back) counts as expired."""

    def __init__(self, *, now: Callable[[], datetime], max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("a TtlCache holds at least one entry")
        self._now = now
        self._max_entries = max_entries
        self._entries: dict[K, tuple[datetime, V]] = {}
        # Invocations of different functions run in threads of one process in the local stack.
        self._lock = threading.Lock()
        _registry.add(self)

    def get(self, key: K, load: Callable[[], V], *, max_age: float) -> V:
        """The value cached for `key` if it is at most `max_age` seconds old, else `load()` (kept)."""
        now = self._now()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and 0 <= (now - hit[0]).total_seconds() < max_age:
            return hit[1]
        value = load()  # outside the lock: a slow read must not hold up other keys
        with self._lock:
            self._entries.pop(key, None)
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (now, value)
        return value

    def discard(self, key: K) -> None:
        """Forget one key (after this container changed what it holds)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

"""Per-container caches (clients, settings, configuration read from DynamoDB), cleared in one place.

A Lambda container keeps them for its life. Tests and the local stack host many "containers" in one
process, each against its own moto, so they clear everything between them: `clear_all()`. A module that
adds a cache registers its clear function here (`register`), at import.
"""

from __future__ import annotations

from collections.abc import Callable

_clearers: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> Callable[[], None]:
    if clear not in _clearers:
        _clearers.append(clear)
    return clear


def clear_all() -> None:
    from leadstream import aws

    for value in vars(aws).values():  # every AWS client
        if callable(cache_clear := getattr(value, "cache_clear", None)):
            cache_clear()
    for clear in list(_clearers):
        clear()

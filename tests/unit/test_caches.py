"""The one cache strategy: container_cache and TtlCache register themselves, so clear_all clears every cache
without a hand-kept list; TTL ages are measured by the clock the cache is given; configuration is part of
the key."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from leadstream import aws, caches, settings
from leadstream.caches import TtlCache, container_cache


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class Loads:
    """A loader that counts its calls and returns a new value each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return f"value {self.calls}"


def test_a_value_is_kept_for_its_max_age_by_the_given_clock() -> None:
    clock, load = FakeClock(), Loads()
    cache: TtlCache[str, str] = TtlCache(now=clock)
    assert cache.get("k", load, max_age=60) == "value 1"
    clock.advance(59.9)
    assert cache.get("k", load, max_age=60) == "value 1"
    clock.advance(0.1)
    assert cache.get("k", load, max_age=60) == "value 2"
    assert load.calls == 2


def test_each_reader_applies_its_own_max_age() -> None:
    clock, load = FakeClock(), Loads()
    cache: TtlCache[str, str] = TtlCache(now=clock)
    cache.get("k", load, max_age=60)
    clock.advance(30)
    assert cache.get("k", load, max_age=60) == "value 1"
    assert cache.get("k", load, max_age=10) == "value 2"  # too old for this reader: read again
    assert cache.get("k", load, max_age=0) == "value 3"  # 0: never cached


def test_a_clock_that_went_back_expires_the_entry() -> None:
    clock, load = FakeClock(), Loads()
    cache: TtlCache[str, str] = TtlCache(now=clock)
    cache.get("k", load, max_age=math.inf)
    clock.advance(-1)
    assert cache.get("k", load, max_age=math.inf) == "value 2"


def test_keys_are_separate_and_a_failed_load_keeps_nothing() -> None:
    clock = FakeClock()
    cache: TtlCache[tuple[str, str], str] = TtlCache(now=clock)
    assert cache.get(("table-a", "src"), lambda: "a", max_age=60) == "a"
    assert cache.get(("table-b", "src"), lambda: "b", max_age=60) == "b"

    def failing() -> str:
        raise RuntimeError("storage down")

    with pytest.raises(RuntimeError):
        cache.get(("table-c", "src"), failing, max_age=60)
    assert cache.get(("table-c", "src"), lambda: "c", max_age=60) == "c"
    assert len(cache) == 3


def test_the_oldest_insertion_goes_past_the_bound() -> None:
    clock, load = FakeClock(), Loads()
    cache: TtlCache[int, str] = TtlCache(now=clock, max_entries=2)
    for key in (1, 2, 3):
        cache.get(key, lambda: f"v{key}", max_age=60)  # noqa: B023  # called at once
    assert len(cache) == 2
    assert cache.get(1, load, max_age=60) == "value 1"  # 1 was dropped
    assert cache.get(3, load, max_age=60) == "v3"
    with pytest.raises(ValueError, match="at least one"):
        TtlCache(now=clock, max_entries=0)


def test_discard_forgets_one_key() -> None:
    clock, load = FakeClock(), Loads()
    cache: TtlCache[str, str] = TtlCache(now=clock)
    cache.get("a", load, max_age=60)
    cache.get("b", load, max_age=60)
    cache.discard("a")
    cache.discard("missing")
    assert cache.get("a", load, max_age=60) == "value 3"
    assert cache.get("b", load, max_age=60) == "value 2"


def test_clear_all_clears_every_cache_created_without_registering_it() -> None:
    clock, load = FakeClock(), Loads()
    ttl: TtlCache[str, str] = TtlCache(now=clock)
    ttl.get("k", load, max_age=60)
    calls: list[int] = []

    @container_cache
    def square(number: int) -> int:
        calls.append(number)
        return number * number

    assert (square(3), square(3)) == (9, 9)
    assert calls == [3]

    caches.clear_all()

    assert ttl.get("k", load, max_age=60) == "value 2"
    assert square(3) == 9
    assert calls == [3, 3]


def test_container_cache_keeps_one_result_per_argument_and_the_function_name() -> None:
    @container_cache
    def client_for(endpoint: str | None) -> object:
        """Docs stay."""
        return object()

    assert client_for("http://a") is client_for("http://a")
    assert client_for("http://a") is not client_for("http://b")
    assert client_for.__name__ == "client_for"
    assert client_for.__doc__ == "Docs stay."


def test_aws_clients_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client made for one endpoint (an earlier stack's moto) is never handed out under another."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    first = aws.sqs()
    assert aws.sqs() is first
    assert first.meta.endpoint_url == "http://127.0.0.1:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    second = aws.sqs()
    assert second is not first
    assert second.meta.endpoint_url == "http://127.0.0.1:2"
    assert aws.s3().meta.config.s3 == {"addressing_style": "path"}


def test_settings_are_parsed_per_distinct_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIN_TABLE", "main-of-one-function")
    monkeypatch.setenv("EVENTS_TABLE", "events")
    assert settings.get_settings().main_table == "main-of-one-function"
    monkeypatch.setenv("MAIN_TABLE", "main-of-another")
    assert settings.get_settings().main_table == "main-of-another"

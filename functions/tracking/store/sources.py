"""Sources and forms in the main table, cached per container for a short while.

Every tracking request needs its source; caching keeps that lookup off the per-event cost.
"""

from __future__ import annotations

import time
from typing import Any

from leadstream import caches, keys
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item, query_index_first
from leadstream.store.dynamo import serialize as _serialize
from tracking.sources import Form, Source

# Unknown write keys are cached too (so a flood of bad keys costs no reads); the bound keeps that cheap.
MAX_CACHED = 1024
_cache: dict[str, tuple[float, Any]] = {}


def _cached[T](cache_key: str, load: Any) -> T | None:
    now = time.monotonic()
    hit = _cache.get(cache_key)
    if hit and now - hit[0] < get_settings().config_cache_seconds:
        return hit[1]  # type: ignore[no-any-return]
    value = load()
    if len(_cache) >= MAX_CACHED:
        _cache.pop(next(iter(_cache)))  # oldest insertion first
    _cache.pop(cache_key, None)
    _cache[cache_key] = (now, value)
    return value  # type: ignore[no-any-return]


def clear_cache() -> None:
    _cache.clear()


caches.register(clear_cache)


def source_by_write_key(write_key: str) -> Source | None:
    def load() -> Source | None:
        item = query_index_first(
            get_settings().main_table, "GSI1", {"gsi1pk": keys.write_key_index(write_key)["gsi1pk"]}
        )
        return Source.model_validate(item) if item else None

    return _cached(f"writekey:{write_key}", load)


def source_by_id(source_id: str) -> Source | None:
    def load() -> Source | None:
        item = get_item(get_settings().main_table, keys.source_key(source_id))
        return Source.model_validate(item) if item else None

    return _cached(f"source:{source_id}", load)


def form_by_id(form_id: str) -> Form | None:
    def load() -> Form | None:
        item = get_item(get_settings().main_table, keys.form_key(form_id))
        return Form.model_validate(item) if item else None

    return _cached(f"form:{form_id}", load)


def put_source(source: Source, *, table: str | None = None) -> None:
    """Create or replace a source (`table` defaults to the configured main table)."""
    from leadstream.aws import dynamodb

    item = {
        **keys.source_key(source.source_id),
        **keys.write_key_index(source.write_key),
        **source.model_dump(by_alias=True),
    }
    dynamodb().put_item(TableName=table or get_settings().main_table, Item=_serialize(item))


def put_form(form: Form, *, table: str | None = None) -> None:
    from leadstream.aws import dynamodb

    item = {**keys.form_key(form.form_id), **form.model_dump(by_alias=True, mode="json")}
    dynamodb().put_item(TableName=table or get_settings().main_table, Item=_serialize(item))

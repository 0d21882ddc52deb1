"""Sources and forms in the main table, cached per container for a short while.

Every tracking request needs its source; caching keeps that lookup off the per-event cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadstream import clock, keys
from leadstream.aws import dynamodb
from leadstream.caches import TtlCache
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item, query_index_first
from leadstream.store.dynamo import serialize as _serialize
from tracking.sources import Form, Source

# Unknown write keys are cached too (so a flood of bad keys costs no reads); the bound keeps that cheap.
MAX_CACHED = 1024
# Keyed by (table, kind, id): functions reading different tables never see each other's sources.
_cache: TtlCache[tuple[str, str, str], Any] = TtlCache(now=clock.now, max_entries=MAX_CACHED)


def _cached[T](kind: str, name: str, load: Callable[[str], T]) -> T:
    settings = get_settings()
    table = settings.main_table
    value: T = _cache.get((table, kind, name), lambda: load(table), max_age=settings.config_cache_seconds)
    return value


def source_by_write_key(write_key: str) -> Source | None:
    def load(table: str) -> Source | None:
        item = query_index_first(table, "GSI1", {"gsi1pk": keys.write_key_index(write_key)["gsi1pk"]})
        return Source.model_validate(item) if item else None

    return _cached("writekey", write_key, load)


def source_by_id(source_id: str) -> Source | None:
    def load(table: str) -> Source | None:
        item = get_item(table, keys.source_key(source_id))
        return Source.model_validate(item) if item else None

    return _cached("source", source_id, load)


def form_by_id(form_id: str) -> Form | None:
    def load(table: str) -> Form | None:
        item = get_item(table, keys.form_key(form_id))
        return Form.model_validate(item) if item else None

    return _cached("form", form_id, load)


def put_source(source: Source, *, table: str | None = None) -> None:
    """Create or replace a source (`table` defaults to the configured main table)."""
    item = {
        **keys.source_key(source.source_id),
        **keys.write_key_index(source.write_key),
        **source.model_dump(by_alias=True),
    }
    dynamodb().put_item(TableName=table or get_settings().main_table, Item=_serialize(item))


def put_form(form: Form, *, table: str | None = None) -> None:
    item = {**keys.form_key(form.form_id), **form.model_dump(by_alias=True, mode="json")}
    dynamodb().put_item(TableName=table or get_settings().main_table, Item=_serialize(item))

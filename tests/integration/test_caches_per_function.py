"""Module caches in one process hosting several functions (the local stack): a cached value belongs to the
configuration it was read with, and ages by the business clock, so moving the local clock expires it."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from leadstream import clock
from leadstream.settings import get_settings
from scoring.rules import ScoringSettings
from scoring.store.config import save_settings, scoring_config
from tracking.sources import Source
from tracking.store.sources import put_source, source_by_write_key

WRITE_KEY = "cache-test-write-key-01"


@pytest.fixture
def other_table(aws: Any) -> str:
    """A second main table, as another function of the same process might be configured with."""
    client = boto3.client("dynamodb")
    table = client.describe_table(TableName=get_settings().main_table)["Table"]
    name = "OtherMainTable"
    client.create_table(
        TableName=name,
        AttributeDefinitions=table["AttributeDefinitions"],
        KeySchema=table["KeySchema"],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index["IndexName"],
                "KeySchema": index["KeySchema"],
                "Projection": index["Projection"],
            }
            for index in table["GlobalSecondaryIndexes"]
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_a_cached_source_is_never_served_to_a_function_with_another_table(
    other_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_source(Source(source_id="src-a", name="Site A", write_key=WRITE_KEY))
    found = source_by_write_key(WRITE_KEY)
    assert found is not None
    assert found.name == "Site A"

    monkeypatch.setenv("MAIN_TABLE", other_table)
    assert source_by_write_key(WRITE_KEY) is None
    put_source(Source(source_id="src-b", name="Site B", write_key=WRITE_KEY))
    assert source_by_write_key(WRITE_KEY) is None  # unknown keys are cached too, per table

    monkeypatch.undo()
    again = source_by_write_key(WRITE_KEY)
    assert again is not None
    assert again.name == "Site A"


def test_scoring_configuration_is_cached_per_table(other_table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    save_settings(ScoringSettings(mqlFit=77), by="test")
    assert scoring_config().settings.mql_fit == 77

    monkeypatch.setenv("MAIN_TABLE", other_table)
    assert scoring_config().settings.mql_fit == ScoringSettings().mql_fit  # its own defaults, seeded


def test_moving_the_business_clock_expires_cached_configuration(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_source(Source(source_id="src-a", name="Before", write_key=WRITE_KEY))
    assert getattr(source_by_write_key(WRITE_KEY), "name", None) == "Before"
    put_source(Source(source_id="src-a", name="After", write_key=WRITE_KEY))
    assert getattr(source_by_write_key(WRITE_KEY), "name", None) == "Before"  # cached

    monkeypatch.setenv(clock.OFFSET_VARIABLE, str(get_settings().config_cache_seconds + 1))
    assert getattr(source_by_write_key(WRITE_KEY), "name", None) == "After"

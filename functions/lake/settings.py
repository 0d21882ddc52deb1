"""The lake's configuration (environment variables, read through leadstream.settings.load)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from leadstream.models import Model


class FeedSettings(Model, frozen=True):
    events_table: str = Field(alias="EVENTS_TABLE", min_length=3)
    events_stream: str = Field(alias="LAKE_EVENTS_STREAM", min_length=1)
    changes_stream: str = Field(alias="LAKE_CHANGES_STREAM", min_length=1)


class ReportSettings(Model, frozen=True):
    main_table: str = Field(alias="MAIN_TABLE", min_length=3)
    bucket: str = Field(alias="LAKE_BUCKET", min_length=3)
    # athena in AWS; the local stack plays Athena with DuckDB over the same files (docs/lake.md).
    engine: Literal["athena", "duckdb"] = Field(alias="LAKE_QUERY_ENGINE", default="athena")
    database: str = Field(alias="LAKE_DATABASE", default="leadstream_lake")
    workgroup: str = Field(alias="LAKE_WORKGROUP", default="primary")
    # How long a report's answer is reused for the same parameters.
    cache_seconds: int = Field(alias="LAKE_REPORT_CACHE_SECONDS", default=900, ge=0, le=86_400)
    # How long a request waits for Athena before answering 202 with a status URL.
    wait_seconds: float = Field(alias="LAKE_REPORT_WAIT_SECONDS", default=8.0, ge=0, le=25)

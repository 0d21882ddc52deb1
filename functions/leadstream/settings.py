"""Configuration, parsed once from the environment; a missing or malformed value fails at cold start."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field, ValidationError, field_validator


class Settings(BaseModel, frozen=True):
    events_table: str = Field(alias="EVENTS_TABLE", min_length=3)
    main_table: str = Field(alias="MAIN_TABLE", min_length=3)
    retention_days: int = Field(alias="RETENTION_DAYS", default=395, ge=1, le=3650)
    # Origins a browser may preflight from; a source narrows this further for its own events.
    allowed_origins: tuple[str, ...] = Field(alias="ALLOWED_ORIGINS", default=("*",))
    # How long a container trusts a cached source or form before reading it again.
    config_cache_seconds: float = Field(alias="CONFIG_CACHE_SECONDS", default=60.0, ge=0)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip()) or ("*",)
        return value


class ConfigurationError(RuntimeError):
    """The function was deployed without the environment it needs."""


@cache
def get_settings() -> Settings:
    try:
        return Settings.model_validate(dict(os.environ))
    except ValidationError as exc:
        raise ConfigurationError(f"invalid Leadstream configuration: {exc}") from exc

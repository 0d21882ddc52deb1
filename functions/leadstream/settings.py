"""Configuration: every environment variable is read through a pydantic settings model, here.

`load(Model)` parses the variables `Model` names (field aliases) once per distinct set of values: a Lambda
container never changes its environment, so that is once per container; the local stack runs every
function in one process, each with its own variables, so each function gets its own parse and no function
sees another's configuration. A missing or malformed value raises ConfigurationError where it is first read.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, Field, ValidationError, field_validator

from leadstream.caches import container_cache
from leadstream.models import Model


class Settings(Model, frozen=True):
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


def load[M: BaseModel](model: type[M]) -> M:
    """`model` parsed from the environment (once per distinct value of the variables it reads)."""
    parsed: M = _parse(model, tuple((name, os.environ.get(name)) for name in _variables(model)))
    return parsed


def get_settings() -> Settings:
    return load(Settings)


@container_cache
def _variables(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(field.alias or name for name, field in model.model_fields.items())


@container_cache
def _parse[M: BaseModel](model: type[M], values: tuple[tuple[str, str | None], ...]) -> M:
    try:
        return model.model_validate({name: value for name, value in values if value is not None})
    except ValidationError as exc:
        raise ConfigurationError(f"invalid Leadstream configuration ({model.__name__}): {exc}") from exc

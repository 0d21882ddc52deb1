"""Integrations' configuration (environment variables, parsed once per distinct environment)."""

from __future__ import annotations

from pydantic import Field

from leadstream.models import Model
from leadstream.settings import load


class IntegrationSettings(Model, frozen=True):
    # The stack's bus: catalog events are put here; webhook rules listen on it.
    event_bus: str = Field(alias="LEAD_EVENT_BUS", default="default", min_length=1)
    # Where catalog events (from the bus rule) and per-subscription deliveries wait (the delivery function's
    # queue), and where a delivery given up after the retry window is put for people to see.
    webhook_queue_url: str | None = Field(alias="WEBHOOK_QUEUE_URL", default=None)
    webhook_dead_letter_queue_url: str | None = Field(alias="WEBHOOK_DEAD_LETTER_QUEUE_URL", default=None)
    # Loopback receivers (http://127.0.0.1:...) are allowed only where this is set: the local stack and
    # tests. In a deployment every receiver is https on a public address.
    allow_loopback: bool = Field(alias="WEBHOOK_ALLOW_LOOPBACK", default=False)
    # One delivery attempt waits at most this long for the receiver (connect + response).
    timeout_seconds: float = Field(
        alias="WEBHOOK_TIMEOUT_SECONDS", default=10.0, gt=0, le=30, allow_inf_nan=False
    )


def integration_settings() -> IntegrationSettings:
    return load(IntegrationSettings)

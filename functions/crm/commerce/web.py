"""The commerce routes' clock: the CRM's day is a UTC day."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_today() -> date:
    """The CRM's day: UTC (validity, renewal and digest dates are UTC days)."""
    return utc_now().date()

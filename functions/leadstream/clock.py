"""The business clock: the time every decision is made at, and every stored moment is stamped with.

Scores decay, segment and conversion windows, journey waits and timers, send leases, the link scanner
window, `sentAt`, `receivedAt`, CRM timestamps and the caches' ages all read `now()`, never the system
clock, so moving this clock moves all of them alike. In AWS it is the system clock. The local stack can
move it forward (`LocalStack.advance_clock`, `leadstream clock advance 2d`) to run a two-day wait in a
second: it sets `LEADSTREAM_CLOCK_OFFSET_SECONDS` for the functions it hosts and fires EventBridge
Scheduler schedules by the same clock. The variable is never set in a deployed stack.

Durations (timeouts, pacing, backoff) are measured with `time.monotonic()` instead: they are about how
long this process waited, which moving the business clock must not change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import Field

from leadstream import settings
from leadstream.models import Model

OFFSET_VARIABLE = "LEADSTREAM_CLOCK_OFFSET_SECONDS"


class ClockSettings(Model, frozen=True):
    # How far the local stack has moved the clock ahead of real time; never set in AWS.
    offset_seconds: float = Field(
        alias="LEADSTREAM_CLOCK_OFFSET_SECONDS", default=0.0, ge=0, allow_inf_nan=False
    )


def offset() -> timedelta:
    return timedelta(seconds=settings.load(ClockSettings).offset_seconds)


def now() -> datetime:
    """The current time, UTC (shifted by the local stack's offset, if any)."""
    return datetime.now(UTC) + offset()


def today() -> date:
    """The current UTC day: the day of windows, validity and renewal dates and daily digests."""
    return now().date()

"""The time every journey, segment and campaign decision is made at.

In AWS this is the system clock. The local stack can move it forward (`LocalStack.advance_clock`,
`leadstream clock advance 2d`) to run a two-day wait in a second: it sets `LEADSTREAM_CLOCK_OFFSET_SECONDS`
for the functions it hosts and fires EventBridge Scheduler schedules by the same clock. The variable is
never set in a deployed stack.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

OFFSET_VARIABLE = "LEADSTREAM_CLOCK_OFFSET_SECONDS"


def offset() -> timedelta:
    raw = os.environ.get(OFFSET_VARIABLE)
    return timedelta(seconds=float(raw)) if raw else timedelta(0)


def now() -> datetime:
    """The current time, UTC (shifted by the local stack's offset, if any)."""
    return datetime.now(UTC) + offset()

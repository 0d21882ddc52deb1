"""EventBridge Scheduler's one-time schedules, and a clock that can be moved forward.

moto keeps the schedules the functions create (leadstream/timers.py) but runs none of them. Here a poller
fires every `at(...)` schedule whose time has come by the local clock: it sends the target's `Input` to
the target SQS queue (the only target type Leadstream uses) and deletes the schedule when its
ActionAfterCompletion says DELETE, as Scheduler does.

The local clock is real time plus an offset. The offset lives in the embedded AWS as the SSM parameter
`CLOCK_PARAMETER`, so `leadstream clock advance 2d` (another process) and `LocalStack.advance_clock` (tests)
move the same clock; the poller passes it on to the hosted functions through
`LEADSTREAM_CLOCK_OFFSET_SECONDS`, which `leadstream.clock.now()` reads.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from leadstream_local import embedded_aws
from leadstream_local.polling import POLL_INTERVAL, BackgroundPoller
from leadstream_local.template import ACCOUNT_ID, REGION

log = logging.getLogger("leadstream_local")

CLOCK_PARAMETER = "/leadstream-local/clock-offset-seconds"
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `2d`, `1w` (the CLI's and tests' way to say how far to move the clock)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 2h, 2d or 1w")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def read_offset(ssm_client: Any) -> timedelta:
    from botocore.exceptions import ClientError

    try:
        value = ssm_client.get_parameter(Name=CLOCK_PARAMETER)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            return timedelta(0)
        raise
    return timedelta(seconds=float(value))


def write_offset(ssm_client: Any, offset: timedelta) -> None:
    ssm_client.put_parameter(
        Name=CLOCK_PARAMETER, Value=repr(offset.total_seconds()), Type="String", Overwrite=True
    )


class OneTimeSchedules(BackgroundPoller):
    """Fires due `at(...)` schedules of moto's EventBridge Scheduler into their SQS targets."""

    def __init__(
        self,
        *,
        sqs_client: Any,
        ssm_client: Any,
        on_offset: Callable[[timedelta], None],
        poll_interval: float = POLL_INTERVAL,
        region: str = REGION,
    ) -> None:
        super().__init__("one-time schedules", poll_interval)
        self._region = region
        self._sqs = sqs_client
        self._ssm = ssm_client
        self._on_offset = on_offset
        self._offset = timedelta(0)
        self._queue_urls: dict[str, str] = {}
        self.fired = 0

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by `delta` and fire what came due (before returning)."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            write_offset(self._ssm, read_offset(self._ssm) + delta)
        self.poll_once()

    def poll_once(self) -> bool:
        """Fire every schedule due now. True when none was."""
        with self._lock:
            started = time.monotonic()
            self._sync_offset()
            due = self._due()
            for group, schedule in due:
                self._fire(group, schedule)
            if not due:
                self.idle_cycle_started = started
            return not due

    def _sync_offset(self) -> None:
        offset = read_offset(self._ssm)
        if offset != self._offset:
            self._offset = offset
            self._on_offset(offset)

    def _due(self) -> list[tuple[Any, Any]]:
        from moto.scheduler.models import scheduler_backends

        now = self.now()
        with embedded_aws.exclusive():
            backend = scheduler_backends[ACCOUNT_ID][self._region]
            return [
                (group, schedule)
                for group in list(backend.schedule_groups.values())
                for schedule in list(group.schedules.values())
                if _is_due(schedule, now)
            ]

    def _fire(self, group: Any, schedule: Any) -> None:
        target = schedule.target
        arn = str(target["Arn"])
        if not arn.startswith("arn:aws:sqs:"):
            log.warning("schedule %s targets %s; only SQS targets are emulated", schedule.name, arn)
        else:  # without the moto lock: sending is a request to moto, served in another thread
            self._sqs.send_message(QueueUrl=self._queue_url(arn), MessageBody=str(target.get("Input", "")))
        with embedded_aws.exclusive():
            if group.schedules.get(schedule.name) is schedule:  # unless deleted meanwhile
                if schedule.action_after_completion == "DELETE":
                    group.delete_schedule(schedule.name)
                else:
                    schedule.state = "DISABLED"  # a one-time schedule runs once
        self.activity += 1
        self.fired += 1

    def _queue_url(self, arn: str) -> str:
        if arn not in self._queue_urls:
            name = arn.rsplit(":", 1)[1]
            self._queue_urls[arn] = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._queue_urls[arn]


def _is_due(schedule: Any, now: datetime) -> bool:
    at = _at(schedule.schedule_expression)
    return at is not None and at <= now and schedule.state == "ENABLED"


def _at(expression: str) -> datetime | None:
    match = _AT.match(expression.strip())
    if not match:
        return None
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)

"""Per-person timers: a wait that ends at 10:03 fires at 10:03, with no cron and no scan.

Each pending timer is one EventBridge Scheduler one-time schedule (`at(...)`, deleted after it runs) whose
target is the timer queue; the TimerFunction (functions/handlers/timers.py) hands the message to the
handler of the timer's kind. Scheduler fires within a minute of `at` (flexible window off) and scales to
millions of pending schedules, so nobody polls for due work.

The schedule's name is derived from the timer's kind and key, so scheduling the same key again moves the
one schedule instead of adding a second. Delivery is at least once (Scheduler and SQS both may repeat):
handlers compare the payload with the state they guard and do nothing for a stale or repeated firing.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import AwareDatetime, ConfigDict, Field

from leadstream import aws, clock
from leadstream.models import Model
from leadstream.settings import load

TimerKind = Literal["segment", "journey", "campaign"]

# Scheduler names: at most 64 characters of [0-9a-zA-Z-_.].
_NAME_LIMIT = 64


class Timer(Model):
    """What fires, when, and the state it was set for (the body of the timer queue message)."""

    model_config = ConfigDict(extra="forbid")

    kind: TimerKind
    key: str = Field(min_length=1, max_length=500)
    at: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def schedule_name(self) -> str:
        return schedule_name(self.kind, self.key)


def schedule_name(kind: str, key: str) -> str:
    """A valid, stable Scheduler name for a timer: readable prefix, hashed key (keys may hold any text)."""
    digest = hashlib.sha256(f"{kind}\x1f{key}".encode()).hexdigest()
    return f"{kind}-{digest}"[:_NAME_LIMIT]


def at_expression(moment: datetime) -> str:
    """Scheduler's one-time expression, in UTC, rounded up to the next whole second (never early)."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return f"at({utc.strftime('%Y-%m-%dT%H:%M:%S')})"


def schedule(timer: Timer) -> None:
    """Create the timer's schedule, or move it to the timer's new time and payload.

    A timer already due goes straight onto the timer queue: a schedule in the past would never run.
    """
    if timer.at <= clock.now():
        aws.sqs().send_message(QueueUrl=_config().queue_url, MessageBody=timer.model_dump_json())
        return
    request = _request(timer)
    client = aws.scheduler()
    try:
        client.create_schedule(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":
            raise
        client.update_schedule(**request)


def cancel(kind: TimerKind, key: str) -> None:
    """Delete a pending timer; one that already fired or never existed is fine."""
    try:
        aws.scheduler().delete_schedule(Name=schedule_name(kind, key), GroupName=_config().group)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


class _SchedulerConfig(Model, frozen=True):
    group: str = Field(alias="TIMER_SCHEDULE_GROUP", min_length=1)
    role_arn: str = Field(alias="TIMER_SCHEDULER_ROLE_ARN", min_length=1)
    queue_arn: str = Field(alias="TIMER_QUEUE_ARN", min_length=1)
    queue_url: str = Field(alias="TIMER_QUEUE_URL", min_length=1)


def _config() -> _SchedulerConfig:
    return load(_SchedulerConfig)


def _request(timer: Timer) -> dict[str, Any]:
    config = _config()
    return {
        "Name": timer.schedule_name,
        "GroupName": config.group,
        "ScheduleExpression": at_expression(timer.at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": config.queue_arn,
            "RoleArn": config.role_arn,
            "Input": timer.model_dump_json(),
            # Scheduler retries a failed delivery to SQS for a day; SQS then keeps it for the handler.
            "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
        },
    }

"""Schedule expressions and the EventBridge events of the local stack's scheduled functions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadstream_local.schedules import Schedule, Scheduler, parse_expression

# A Monday.
NOW = datetime(2026, 11, 23, 10, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 minute)", NOW + timedelta(minutes=1)),
        ("rate(5 minutes)", NOW + timedelta(minutes=5)),
        ("rate(2 hours)", NOW + timedelta(hours=2)),
        ("rate(1 day)", NOW + timedelta(days=1)),
        ("cron(0 12 * * ? *)", datetime(2026, 11, 23, 12, 0, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", datetime(2026, 11, 23, 10, 30, tzinfo=UTC)),
        ("cron(0 8 1 * ? *)", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        ("cron(30 9 ? * MON-FRI *)", datetime(2026, 11, 24, 9, 30, tzinfo=UTC)),
        ("cron(0 0 ? * 1 *)", datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),  # 1 = Sunday in AWS cron
        ("cron(0 0 ? * SUN *)", datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),
        ("cron(0 0 1 JAN ? 2027)", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("cron(5,10 10 23 11 ? 2026)", None),  # both times today are past, and the year ends the schedule
    ],
)
def test_next_run(expression: str, expected: datetime | None) -> None:
    assert parse_expression(expression)(NOW) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(5 weeks)",
        "cron(0 12 * * *)",  # AWS cron has six fields
        "cron(0 12 * * MON *)",  # one of day-of-month and day-of-week must be ?
        "cron(0 12 L * ? *)",
        "cron(61 * * * ? *)",
        "every day",
    ],
)
def test_bad_expressions_fail_at_start(expression: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        Schedule(function="F", event_name="E", event_type="Schedule", expression=expression)


def test_schedule_event_is_eventbridges_scheduled_event() -> None:
    schedule = Schedule.from_properties("ReportFunction", "Nightly", "Schedule", {"Schedule": "rate(1 day)"})
    event = schedule.event(NOW)
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-11-23T10:17:30Z"
    assert event["detail"] == {}
    assert event["resources"] == [schedule.resource_arn]
    assert schedule.resource_arn.startswith("arn:aws:events:us-east-1:123456789012:rule/")


def test_input_replaces_the_event_and_state_disables() -> None:
    schedule = Schedule.from_properties(
        "F",
        "E",
        "ScheduleV2",
        {"ScheduleExpression": "rate(1 hour)", "Input": '{"job": "cleanup"}', "State": "DISABLED"},
    )
    assert schedule.event(NOW) == {"job": "cleanup"}
    assert not schedule.enabled


def test_trigger_runs_a_schedule_now() -> None:
    received: list[Any] = []
    schedule = Schedule.from_properties("F", "E", "Schedule", {"Schedule": "rate(1 day)"})
    scheduler = Scheduler({schedule: received.append})
    scheduler.trigger("F")
    assert received[0]["detail-type"] == "Scheduled Event"
    with pytest.raises(KeyError):
        scheduler.trigger("Other")


def test_schedules_run_by_the_clock_they_are_given() -> None:
    """The stack hands its local clock over: moving it runs what came due, once, stamped by that clock."""
    moment = [NOW]
    received: list[Any] = []
    ran = threading.Event()

    def invoke(event: Any) -> None:
        received.append(event)
        ran.set()

    schedule = Schedule.from_properties("F", "E", "Schedule", {"Schedule": "rate(1 day)"})
    scheduler = Scheduler({schedule: invoke}, now=lambda: moment[0])
    scheduler.start()
    try:
        scheduler.trigger("F")
        assert received.pop()["time"] == "2026-11-23T10:17:30Z"
        ran.clear()
        moment[0] = NOW + timedelta(days=3)  # three runs came due: one runs, the missed ones are skipped
        scheduler.clock_moved()
        assert ran.wait(timeout=30)
    finally:
        scheduler.stop()
    assert [event["time"] for event in received] == ["2026-11-24T10:17:30Z"]

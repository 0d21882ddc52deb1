"""Per-person timers: one EventBridge Scheduler schedule per timer key, fired locally by a movable clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from leadstream import clock, timers
from leadstream.timers import Timer
from leadstream_local.template import ACCOUNT_ID, REGION
from leadstream_local.timers import OneTimeSchedules, parse_duration


def _schedules() -> dict[str, Any]:
    from moto.scheduler.models import scheduler_backends

    backend = scheduler_backends[ACCOUNT_ID][REGION]
    return {name: s for group in backend.schedule_groups.values() for name, s in group.schedules.items()}


def _queued(template: Any) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = template.physical["TimerQueue"]["Ref"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_a_timer_is_one_schedule_per_key_and_rescheduling_moves_it(aws: Any) -> None:
    soon = clock.now() + timedelta(hours=2)
    timers.schedule(Timer(kind="journey", key="run-1:3", at=soon, payload={"seq": 3}))
    timers.schedule(Timer(kind="journey", key="run-1:3", at=soon + timedelta(hours=1), payload={"seq": 3}))
    timers.schedule(Timer(kind="journey", key="run-2:1", at=soon, payload={}))

    schedules = _schedules()
    assert len(schedules) == 2
    moved = schedules[timers.schedule_name("journey", "run-1:3")]
    assert moved.schedule_expression == timers.at_expression(soon + timedelta(hours=1))
    assert moved.action_after_completion == "DELETE"
    assert moved.target["Arn"] == aws.physical["TimerQueue"]["Arn"]
    assert Timer.model_validate_json(moved.target["Input"]).payload == {"seq": 3}

    timers.cancel("journey", "run-1:3")
    timers.cancel("journey", "run-1:3")  # already gone: fine
    assert list(_schedules()) == [timers.schedule_name("journey", "run-2:1")]


def test_a_timer_already_due_goes_straight_to_the_queue(aws: Any) -> None:
    timers.schedule(Timer(kind="segment", key="p-1", at=clock.now() - timedelta(seconds=1)))
    assert _schedules() == {}
    (body,) = _queued(aws)
    assert Timer.model_validate(body).key == "p-1"


def test_at_expressions_round_up_so_a_timer_never_fires_early() -> None:
    moment = datetime(2026, 3, 1, 10, 3, 0, 250_000, tzinfo=UTC)
    assert timers.at_expression(moment) == "at(2026-03-01T10:03:01)"
    assert timers.at_expression(moment.replace(microsecond=0)) == "at(2026-03-01T10:03:00)"


def test_the_local_clock_fires_due_schedules_into_their_queue_and_deletes_them(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    offsets: list[timedelta] = []
    local = OneTimeSchedules(
        sqs_client=boto3.client("sqs"), ssm_client=boto3.client("ssm"), on_offset=offsets.append
    )
    timers.schedule(Timer(kind="journey", key="r:1", at=clock.now() + timedelta(days=2), payload={"n": 1}))
    timers.schedule(Timer(kind="journey", key="r:2", at=clock.now() + timedelta(days=3), payload={"n": 2}))

    assert local.poll_once() is True  # nothing due yet
    local.advance(parse_duration("2d") + timedelta(minutes=1))

    assert offsets
    assert offsets[-1] >= timedelta(days=2)
    assert [Timer.model_validate(body).payload for body in _queued(aws)] == [{"n": 1}]
    assert list(_schedules()) == [timers.schedule_name("journey", "r:2")]
    assert local.fired == 1
    with pytest.raises(ValueError, match="forward"):
        local.advance(timedelta(seconds=-1))


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("1w") == timedelta(days=7)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("two days")


def test_the_clock_is_real_time_unless_the_local_stack_moves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.OFFSET_VARIABLE, raising=False)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    monkeypatch.setenv(clock.OFFSET_VARIABLE, str(2 * 86400))
    assert clock.now() - datetime.now(UTC) > timedelta(days=2) - timedelta(seconds=5)

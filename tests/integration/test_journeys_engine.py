"""The journey engine on moto: enrollment from profile changes, sends, waits on timers, branches, waits for
an event, versions; redelivered timers and duplicated triggers do everything once."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from typing import Any

import boto3
import pytest
from email_support import person, template

from journeys import store
from journeys.engine import Engine, on_timer
from journeys.models import JourneyDefinition, Run, RunStatus
from journeys.service import Journeys
from journeys.triggers import on_profile_changes
from leadstream import clock, keys, timers
from leadstream.api import check_if_match
from leadstream.profiles import Profile, ProfileChange
from leadstream.store.dynamo import serialize
from leadstream.timers import Timer
from leadstream_local.template import StackTemplate
from mail.sends import SendRecord, SendRequest, SendStatus
from mail.store.sends import record_item

FORM = "newsletter"


@pytest.fixture
def moved_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`moved_clock(timedelta)`: move the clock forward, as the local stack does."""
    offset = timedelta(0)

    def move(by: timedelta) -> None:
        nonlocal offset
        offset += by
        monkeypatch.setenv(clock.OFFSET_VARIABLE, str(offset.total_seconds()))

    return move


def nurture(hello: str, yes: str, no: str, **fields: Any) -> JourneyDefinition:
    return JourneyDefinition.model_validate(
        {
            "name": "Nurture",
            "trigger": {"type": "form", "formId": FORM},
            "reentry": {"mode": "after_exit"},
            "start": "hello",
            "steps": {
                "hello": {"type": "send_email", "templateId": hello, "next": "pause"},
                "pause": {"type": "wait", "duration": {"days": 2}, "next": "opened"},
                "opened": {"type": "branch", "email": "opened", "yes": "a", "no": "b"},
                "a": {"type": "send_email", "templateId": yes, "next": "done"},
                "b": {"type": "send_email", "templateId": no, "next": "done"},
                "done": {"type": "exit"},
            },
            **fields,
        }
    )


def live(definition: JourneyDefinition) -> str:
    journeys = Journeys()
    journey, version = journeys.create(definition, user="mia")
    journeys.publish(journey.journey_id, version.version, user="mia")
    return journey.journey_id


def submitted(profile: Profile, key: str = f"Form Submitted:{FORM}") -> ProfileChange:
    """The profile stream's record of the person doing `key` (the Scorer counted it)."""
    day = clock.now().date().isoformat()
    count = profile.activity.get(key, {}).get(day, 0) + 1
    new = profile.model_copy(
        update={"version": profile.version + 1, "activity": {**profile.activity, key: {day: count}}}
    )
    return ProfileChange(old=profile, new=new)


def sends(aws: StackTemplate) -> list[SendRequest]:
    """Every send request on the email send queue (read away)."""
    url = aws.physical["EmailSendQueue"]["Ref"]
    found: list[SendRequest] = []
    while (
        messages := boto3.client("sqs")
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        .get("Messages", [])
    ):
        found += [SendRequest.model_validate_json(message["Body"]) for message in messages]
    return found


def pending_timer(run: Run) -> Timer:
    """The journey timer the scheduler holds for the run's current wait."""
    from leadstream.timers import _config

    schedule = boto3.client("scheduler").get_schedule(
        Name=timers.schedule_name("journey", f"{run.run_id}:{run.seq}"), GroupName=_config().group
    )
    return Timer.model_validate_json(schedule["Target"]["Input"])


def only_run(journey_id: str, profile_id: str) -> Run:
    (run,) = store.runs_of(journey_id, profile_id, limit=10, start_key=None)[0]
    return run


def opened(request: SendRequest) -> None:
    """What the open pixel leaves on the send record of a person who opened the email."""
    now = clock.now()
    record = SendRecord.for_request(request, SendStatus.SENT, now, sentAt=now, openedAt=now)
    boto3.client("dynamodb").put_item(
        TableName=keys_table(), Item=serialize({**keys.send_key(request.message_id), **record_item(record)})
    )


def keys_table() -> str:
    from leadstream.settings import get_settings

    return get_settings().main_table


def test_a_nurture_runs_once_per_person_whatever_is_redelivered(aws: StackTemplate, moved_clock: Any) -> None:
    tpl_hello, tpl_a, tpl_b = template(), template(), template()
    journey_id = live(nurture(tpl_hello.template_id, tpl_a.template_id, tpl_b.template_id))
    reader, skimmer = person("reader@example.org"), person("skimmer@example.org")
    changes = [submitted(reader), submitted(skimmer)]

    on_profile_changes(changes, [])
    on_profile_changes(changes, [])  # the stream delivers the batch again
    first = sends(aws)
    assert sorted(request.profile_id for request in first) == sorted([reader.profile_id, skimmer.profile_id])
    assert {request.template_id for request in first} == {tpl_hello.template_id}
    assert all(request.template_version == 1 and request.step_id == "hello" for request in first)

    run = only_run(journey_id, reader.profile_id)
    assert (run.status, run.step_id, run.wake_at) == (
        RunStatus.WAITING,
        "pause",
        run.step_entered_at + timedelta(days=2),
    )
    opened(next(request for request in first if request.profile_id == reader.profile_id))

    early = pending_timer(run)
    on_timer(early)  # a timer delivered before its time changes nothing
    assert only_run(journey_id, reader.profile_id).seq == run.seq

    moved_clock(timedelta(days=2, minutes=1))
    for profile in (reader, skimmer):
        timer = pending_timer(only_run(journey_id, profile.profile_id))
        on_timer(timer)
        on_timer(timer)  # redelivered
    second = {request.profile_id: request for request in sends(aws)}
    assert len(second) == 2
    assert second[reader.profile_id].template_id == tpl_a.template_id
    assert second[skimmer.profile_id].template_id == tpl_b.template_id
    for profile in (reader, skimmer):
        finished = only_run(journey_id, profile.profile_id)
        assert finished.status is RunStatus.EXITED
        assert finished.exit_reason == "exit"
    on_timer(early)  # a stale timer for an exited run
    assert sends(aws) == []

    report = Journeys().report(journey_id)
    steps = {row.step_id: row for row in report.steps}
    assert {step: (row.reached, row.waiting, row.exited) for step, row in steps.items()} == {
        "hello": (2, 0, 0),
        "pause": (2, 0, 0),
        "opened": (2, 0, 0),
        "a": (1, 0, 0),
        "b": (1, 0, 0),
        "done": (2, 0, 2),
    }


def test_editing_a_live_journey_strands_nobody(aws: StackTemplate, moved_clock: Any) -> None:
    tpl = template()
    journeys = Journeys()
    journey_id = live(nurture(tpl.template_id, tpl.template_id, tpl.template_id))
    early_bird = person("early@example.org")
    on_profile_changes([submitted(early_bird)], [])
    sends(aws)

    shorter = JourneyDefinition.model_validate(
        {
            "name": "Nurture, shorter",
            "trigger": {"type": "form", "formId": FORM},
            "start": "only",
            "steps": {"only": {"type": "send_email", "templateId": tpl.template_id}},
        }
    )
    _, v2 = journeys.update(journey_id, shorter, check_version=partial(check_if_match, '"1"'), user="mia")
    journeys.publish(journey_id, v2.version, user="mia")
    latecomer = person("late@example.org")
    on_profile_changes([submitted(latecomer)], [])
    late_run = only_run(journey_id, latecomer.profile_id)
    assert (late_run.version, late_run.status, late_run.step_id) == (2, RunStatus.EXITED, "only")

    moved_clock(timedelta(days=3))
    on_timer(pending_timer(only_run(journey_id, early_bird.profile_id)))
    run = only_run(journey_id, early_bird.profile_id)
    assert (run.version, run.status) == (1, RunStatus.EXITED)
    assert [entry.step for entry in run.log] == ["hello", "pause", "opened", "b", "done"]
    assert {request.step_id for request in sends(aws)} == {"only", "b"}


def test_a_wait_for_an_event_moves_on_the_event_or_the_timeout_never_both(
    aws: StackTemplate, moved_clock: Any, stored_events: Any
) -> None:
    journey_id = live(
        JourneyDefinition.model_validate(
            {
                "name": "Demo follow-up",
                "trigger": {"type": "stage", "stage": "lead"},
                "start": "wait",
                "steps": {
                    "wait": {
                        "type": "wait_for_event",
                        "event": "Demo Booked",
                        "timeout": {"days": 3},
                        "next": "tag",
                        "timeoutNext": "owner",
                    },
                    "tag": {"type": "add_tag", "tag": "demo-booked"},
                    "owner": {"type": "notify_owner", "message": "No demo yet"},
                },
            }
        )
    )
    booker, silent = person("booker@example.org"), person("silent@example.org")
    for profile in (booker, silent):
        became_lead = profile.model_copy(update={"version": profile.version + 1, "stage": "lead"})
        on_profile_changes([ProfileChange(old=profile, new=became_lead)], [])
        profile.version += 1
        profile.stage = became_lead.stage
    waiting = only_run(journey_id, booker.profile_id)
    assert (waiting.status, waiting.wait_event) == (RunStatus.WAITING, "Demo Booked")

    booked = submitted(booker, "Demo Booked")
    on_profile_changes([booked], [])
    on_profile_changes([booked], [])  # duplicated record
    moved_clock(timedelta(days=3, minutes=1))
    on_timer(
        Timer(
            kind="journey",
            key=f"{waiting.run_id}:{waiting.seq}",
            at=clock.now(),
            payload={"runId": waiting.run_id},
        )
    )
    run = only_run(journey_id, booker.profile_id)
    assert run.status is RunStatus.EXITED
    assert [entry.outcome for entry in run.log] == ["event Demo Booked", "add_tag stored"]
    actions = [event for event in stored_events() if event.event == "Journey Action"]
    assert len(actions) == 1
    assert actions[0].properties["tag"] == "demo-booked"
    assert actions[0].context["traits"]["email"] == "booker@example.org"

    on_timer(pending_timer(only_run(journey_id, silent.profile_id)))
    timed_out = only_run(journey_id, silent.profile_id)
    assert timed_out.status is RunStatus.EXITED
    assert [entry.outcome for entry in timed_out.log] == ["timeout", "skipped: no owner"]


def test_a_send_outside_the_window_waits_for_it(aws: StackTemplate) -> None:
    tpl = template()
    now = clock.now()
    closed_today = [
        day
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        if ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(day) != now.weekday()
    ]
    journey_id = live(
        nurture(
            tpl.template_id,
            tpl.template_id,
            tpl.template_id,
            window={"days": closed_today, "timezone": "UTC"},
        )
    )
    someone = person("someone@example.org")
    on_profile_changes([submitted(someone)], [])
    assert sends(aws) == []
    run = only_run(journey_id, someone.profile_id)
    assert (run.status, run.step_id) == (RunStatus.WAITING, "hello")
    assert run.wake_at is not None
    assert run.wake_at.date() > now.date()
    assert pending_timer(run).at == run.wake_at


def test_json_of_a_run_is_what_the_api_lists(aws: StackTemplate) -> None:
    tpl = template()
    journey_id = live(nurture(tpl.template_id, tpl.template_id, tpl.template_id))
    someone = person("json@example.org")
    on_profile_changes([submitted(someone)], [])
    listed, _ = store.list_runs(journey_id, limit=5, start_key=None)
    assert [run.to_json()["runId"] for run in listed] == [only_run(journey_id, someone.profile_id).run_id]
    assert json.dumps(listed[0].to_json())
    assert Engine().resume(listed[0].run_id) is not None

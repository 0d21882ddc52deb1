"""Journey definitions: field checks (pydantic, with paths) and the graph rules checked on save."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from journeys.models import (
    MAX_STEPS,
    Enrollment,
    JourneyDefinition,
    Reentry,
    graph_problems,
    may_enter,
    parse_run_id,
    run_id_for,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def journey(steps: dict[str, Any], start: str = "hello", **fields: Any) -> JourneyDefinition:
    return JourneyDefinition.model_validate(
        {
            "name": "Welcome",
            "trigger": {"type": "form", "formId": "newsletter"},
            "start": start,
            "steps": steps,
            **fields,
        }
    )


def nurture() -> dict[str, Any]:
    """The example of docs/journeys.md: send, wait two days, branch on the open, send A or B, exit."""
    return {
        "hello": {"type": "send_email", "templateId": "tpl-1", "next": "pause"},
        "pause": {"type": "wait", "duration": {"days": 2}, "next": "opened"},
        "opened": {"type": "branch", "email": "opened", "yes": "a", "no": "b"},
        "a": {"type": "send_email", "templateId": "tpl-2", "next": "done"},
        "b": {"type": "send_email", "templateId": "tpl-3", "next": "done"},
        "done": {"type": "exit"},
    }


def fields_of(problems: list[dict[str, str]]) -> list[str]:
    return [problem["field"] for problem in problems]


def error_paths(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [".".join(str(part) for part in error["loc"]) for error in exc.value.errors()]


def test_a_sound_journey_has_no_problems() -> None:
    assert graph_problems(journey(nurture())) == []


def test_the_start_step_must_exist() -> None:
    assert fields_of(graph_problems(journey(nurture(), start="nowhere"))) == ["start"]


def test_every_next_must_name_a_step() -> None:
    steps = nurture()
    steps["opened"] = {"type": "branch", "email": "opened", "yes": "a", "no": "missing"}
    steps["pause"] = {
        "type": "wait_for_event",
        "event": "Demo Booked",
        "timeout": {"days": 1},
        "next": "opened",
        "timeoutNext": "gone",
    }
    assert fields_of(graph_problems(journey(steps))) == ["steps.pause.timeoutNext", "steps.opened.no"]


def test_unreachable_steps_are_refused() -> None:
    steps = {**nurture(), "orphan": {"type": "add_tag", "tag": "x", "next": "done"}}
    assert fields_of(graph_problems(journey(steps))) == ["steps.orphan"]


def test_a_step_without_next_ends_the_run() -> None:
    steps = {"hello": {"type": "send_email", "templateId": "tpl-1"}}
    assert graph_problems(journey(steps)) == []


def test_every_path_must_be_able_to_end() -> None:
    steps = {
        "hello": {"type": "send_email", "templateId": "tpl-1", "next": "pause"},
        "pause": {"type": "wait", "duration": {"days": 7}, "next": "hello"},
    }
    problems = graph_problems(journey(steps))
    assert fields_of(problems) == ["steps.hello", "steps.pause"]
    assert "never lets anyone out" in problems[0]["message"]


def test_a_loop_needs_a_wait() -> None:
    steps = {
        "hello": {"type": "send_email", "templateId": "tpl-1", "next": "check"},
        "check": {
            "type": "branch",
            "condition": {"type": "tag", "op": "has", "tag": "done"},
            "yes": "bye",
            "no": "hello",
        },
        "bye": {"type": "exit"},
    }
    problems = graph_problems(journey(steps))
    assert fields_of(problems) == ["steps.hello"]
    assert "hello -> check -> hello" in problems[0]["message"]


def test_a_loop_through_a_wait_is_fine_but_wait_until_does_not_count() -> None:
    steps = {
        "hello": {"type": "send_email", "templateId": "tpl-1", "next": "pause"},
        "pause": {"type": "wait", "duration": {"days": 7}, "next": "check"},
        "check": {"type": "branch", "email": "clicked", "yes": "bye", "no": "hello"},
        "bye": {"type": "exit"},
    }
    assert graph_problems(journey(steps)) == []
    steps["pause"] = {"type": "wait_until", "at": "2027-01-01T09:00:00Z", "next": "check"}
    assert fields_of(graph_problems(journey(steps))) == ["steps.hello"]


def test_at_most_100_steps() -> None:
    steps = {f"s{n}": {"type": "add_tag", "tag": "t", "next": f"s{n + 1}"} for n in range(MAX_STEPS)}
    steps[f"s{MAX_STEPS}"] = {"type": "exit"}
    with pytest.raises(ValidationError) as exc:
        journey(steps, start="s0")
    assert error_paths(exc) == ["steps"]


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ({"type": "branch", "yes": "done"}, "steps.x.branch"),
        (
            {"type": "branch", "email": "opened", "condition": {"type": "tag", "op": "has", "tag": "a"}},
            "steps.x.branch",
        ),
        ({"type": "wait", "duration": {"days": 0}}, "steps.x.wait.duration"),
        ({"type": "wait", "duration": {"days": 400}}, "steps.x.wait.duration.days"),
        ({"type": "change_score", "points": 0}, "steps.x.change_score.points"),
        ({"type": "change_stage", "stage": "customer"}, "steps.x.change_stage.stage"),
        ({"type": "send_email"}, "steps.x.send_email.templateId"),
        ({"type": "teleport"}, "steps.x"),
    ],
)
def test_bad_steps_are_refused_with_their_path(step: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationError) as exc:
        journey({"x": step}, start="x")
    assert path in error_paths(exc)


def test_bad_windows_and_reentry_rules_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        journey(nurture(), window={"days": ["mon"], "timezone": "Mars/Olympus"})
    assert error_paths(exc) == ["window.timezone"]
    with pytest.raises(ValidationError) as exc:
        journey(nurture(), window={"days": ["mon"], "start": "17:00", "end": "09:00"})
    assert error_paths(exc) == ["window"]
    with pytest.raises(ValidationError) as exc:
        journey(nurture(), reentry={"mode": "cooldown"})
    assert error_paths(exc) == ["reentry"]
    with pytest.raises(ValidationError) as exc:
        journey(nurture(), trigger={"type": "segment_entry"})
    assert error_paths(exc) == ["trigger.segment_entry.segmentId"]


def test_reentry_rules() -> None:
    never, after_exit = Reentry(mode="never"), Reentry(mode="after_exit")
    cooldown = Reentry.model_validate({"mode": "cooldown", "cooldown": {"days": 30}})
    began = Enrollment(entries=1, last_entered_at=NOW - timedelta(days=10), last_exited_at=NOW)
    running = began.model_copy(update={"active_run": "j.p.1"})
    for rule in (never, after_exit, cooldown):
        assert may_enter(rule, None, NOW)
        assert not may_enter(rule, running, NOW)
    assert not may_enter(never, began, NOW)
    assert may_enter(after_exit, began, NOW)
    assert not may_enter(cooldown, began, NOW)
    assert may_enter(cooldown, began, NOW + timedelta(days=20))


def test_run_ids_say_where_the_run_is_stored() -> None:
    run_id = run_id_for("jrn-1", "6f1c1f8e-3f0a-5c4e-9a55-2b7f3c1d9e10", 12)
    assert parse_run_id(run_id) == ("jrn-1", "6f1c1f8e-3f0a-5c4e-9a55-2b7f3c1d9e10", 12)
    with pytest.raises(ValueError, match="not a journey run id"):
        parse_run_id("nonsense")

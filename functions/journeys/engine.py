"""The journey engine: moves one run through its steps until it waits or exits.

A run is stored at a step and a move number (`seq`). The engine repeats: execute the step the run is
stored at, then move the run to the next step with a write conditional on the `seq` (and status) it read.
So a step's effect only ever happens for a step the run durably stands on, and of two deliveries that
race (a redelivered timer, a duplicated stream record, an event and a timeout) one moves the run and the
other stops. The effects themselves are keyed by (run, step, seq), so repeating one after a crash does it
once: an email's message id (the sender sends an id once), an action event's id (scored once), an owner
notification's claim item.

Everything that wakes a run (a timer, an event, an enrollment) calls `carry_on`, which continues from the
stored state; it is always safe to call again. docs/journeys.md walks through the argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from aws_lambda_powertools import Logger

from audience.conditions import matches
from journeys import store
from journeys.effects import send_email, store_action
from journeys.models import (
    MAX_STEPS,
    AddTagStep,
    BranchStep,
    ChangeScoreStep,
    ChangeStageStep,
    JourneyStatus,
    JourneyVersion,
    NotifyOwnerStep,
    RemoveTagStep,
    Run,
    RunStatus,
    SendEmailStep,
    Step,
    WaitForEventStep,
    WaitStep,
    WaitUntilStep,
)
from journeys.notify import notify
from journeys.windows import next_opening, person_zone
from leadstream import clock, timers
from leadstream.store.profiles import live_profile
from leadstream.timers import Timer
from mail.outcomes import engaged

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from journeys.store import Counter
    from leadstream.profiles import Profile

logger = Logger(child=True)
# A loop must contain a wait (checked on save), so one go executes each step at most once before waiting,
# plus the exit. More than this is a bug, not a journey.
MAX_MOVES_PER_GO = MAX_STEPS + 2
TIMER_KIND: Literal["journey"] = "journey"


@dataclass(frozen=True)
class Decision:
    """What executing a step decided: move on (`next`, None = exit), or wait until a time (or event)."""

    outcome: str
    next: str | None = None
    wait_until: datetime | None = None
    wait_event: str | None = None
    last_message_id: str | None = None
    exit_reason: str = "completed"


@dataclass
class _Go:
    """One go at a run: its version, and the person (read once, when a step needs them)."""

    version: JourneyVersion
    archived: bool
    _profile: Profile | None = None
    _profile_read: bool = False

    def profile(self, profile_id: str) -> Profile | None:
        if not self._profile_read:
            self._profile, self._profile_read = live_profile(profile_id), True
        return self._profile


@dataclass
class Engine:
    now: Callable[[], datetime] = clock.now

    # --- entry points ---------------------------------------------------------------------------------
    def resume(self, run_id: str) -> Run | None:
        """Carry a run on from its stored state (what a timer does)."""
        run = store.get_run(run_id)
        if run is None or run.status is RunStatus.EXITED:
            return run
        return self.carry_on(run)

    def on_event(self, run: Run, activity_key: str) -> Run | None:
        """The person did `activity_key`: a run waiting for it moves to the step's `next`."""
        if run.status is not RunStatus.WAITING or run.wait_event != activity_key:
            return None
        version = store.get_version(run.journey_id, run.version)
        step = version.definition.steps.get(run.step_id) if version else None
        if not isinstance(step, WaitForEventStep):
            return None
        moved = self._move(run, Decision(outcome=f"event {activity_key}", next=step.next))
        if moved is None:
            return None  # the timeout (or a repeat of this record) moved it first
        _cancel_timer(run)
        return self.carry_on(moved)

    def carry_on(self, run: Run) -> Run | None:
        """Execute steps from the run's stored state until it waits or exits. None: another delivery moved
        the run meanwhile (it carries on from there)."""
        journey = store.get_journey(run.journey_id)
        version = store.get_version(run.journey_id, run.version)
        if version is None:
            raise RuntimeError(f"run {run.run_id} names version {run.version}, which does not exist")
        go = _Go(version=version, archived=journey is None or journey.status is JourneyStatus.ARCHIVED)
        current: Run | None = run
        for _ in range(MAX_MOVES_PER_GO):
            if current is None or current.status is RunStatus.EXITED:
                return current
            if go.archived:
                decision = Decision(outcome="journey archived", exit_reason="archived")
            else:
                decision = self._decide(current, version.definition.steps[current.step_id], go)
            if decision.wait_until is not None:
                return self._wait(current, decision)
            current = self._move(current, decision)
        raise RuntimeError(f"run {run.run_id} kept moving without waiting; the graph check should prevent it")

    # --- moving ---------------------------------------------------------------------------------------
    def _move(self, run: Run, decision: Decision) -> Run | None:
        now = self.now()
        counts: list[tuple[str, Counter, int]] = []
        if run.status is RunStatus.WAITING:
            counts.append((run.step_id, "waiting", -1))
        changes = {"last_message_id": decision.last_message_id} if decision.last_message_id else {}
        target = decision.next
        if target is None:
            new = run.exited(decision.outcome, decision.exit_reason, now, **changes)
            counts.append((run.step_id, "exited", 1))
        else:
            new = run.moved(target, decision.outcome, now, **changes)
            counts.append((target, "reached", 1))
        if not store.move(run, new, counts=counts):
            logger.info("run moved by another delivery", run=run.run_id, seq=run.seq)
            return None
        return new

    def _wait(self, run: Run, decision: Decision) -> Run | None:
        until = decision.wait_until
        assert until is not None
        if run.status is RunStatus.WAITING and run.wake_at == until and run.wait_event == decision.wait_event:
            return run  # a repeated wake-up before its time: the timer is set already

        timers.schedule(
            Timer(
                kind=TIMER_KIND,
                key=timer_key(run),
                at=until,
                payload={"journeyId": run.journey_id, "runId": run.run_id, "seq": run.seq},
            )
        )
        new = run.waiting(until, self.now(), decision.wait_event)
        counts: list[tuple[str, Counter, int]] = (
            [] if run.status is RunStatus.WAITING else [(run.step_id, "waiting", 1)]
        )
        return new if store.move(run, new, counts=counts) else None

    # --- executing one step ---------------------------------------------------------------------------
    def _decide(self, run: Run, step: Step, go: _Go) -> Decision:
        now = self.now()
        if isinstance(step, WaitStep | WaitUntilStep | WaitForEventStep):
            return self._wait_step(run, step, go, now)
        if isinstance(step, SendEmailStep):
            return self._send(run, step, go, now)
        if isinstance(step, BranchStep):
            holds = self._test(run, step, go, now)
            return Decision(outcome="yes" if holds else "no", next=step.yes if holds else step.no)
        if isinstance(step, AddTagStep | RemoveTagStep | ChangeScoreStep | ChangeStageStep):
            return Decision(outcome=store_action(run, step, go.profile(run.profile_id), now), next=step.next)
        if isinstance(step, NotifyOwnerStep):
            return Decision(outcome=notify(run, step, go.profile(run.profile_id), now), next=step.next)
        return Decision(outcome="exit", exit_reason="exit")

    def _wait_step(
        self, run: Run, step: WaitStep | WaitUntilStep | WaitForEventStep, go: _Go, now: datetime
    ) -> Decision:
        """Move on once the step's time has come (pushed into the sending window when the step after it
        sends email), else wait for it (and, for wait_for_event, for the event)."""
        if isinstance(step, WaitStep):
            moment, then, outcome = run.step_entered_at + step.duration.delta, step.next, "waited"
        elif isinstance(step, WaitUntilStep):
            moment, then, outcome = step.at, step.next, "waited until"
        else:
            moment, then, outcome = run.step_entered_at + step.timeout.delta, step.timeout_next, "timeout"
        if then is not None and isinstance(go.version.definition.steps.get(then), SendEmailStep):
            moment = self._window_opening(run, go, moment)
        if moment <= now:
            return Decision(outcome=outcome, next=then)
        event = step.event if isinstance(step, WaitForEventStep) else None
        return Decision(outcome="", wait_until=moment, wait_event=event)

    def _window_opening(self, run: Run, go: _Go, moment: datetime) -> datetime:
        window = go.version.definition.window
        if window is None:
            return moment

        return next_opening(window, self._zone(run, go), moment)

    def _zone(self, run: Run, go: _Go) -> ZoneInfo:
        window = go.version.definition.window
        assert window is not None
        profile = go.profile(run.profile_id)
        if profile is None:
            return person_zone(window, {})
        located = profile.location.time_zone if profile.location else None
        return person_zone(window, profile.traits, located)

    def _send(self, run: Run, step: SendEmailStep, go: _Go, now: datetime) -> Decision:
        opening = self._window_opening(run, go, now)
        if opening > now:
            return Decision(outcome="", wait_until=opening)  # outside the window: the send waits

        profile = go.profile(run.profile_id)
        message_id = send_email(run, step, go.version, profile.profile_id if profile else run.profile_id)
        return Decision(outcome=f"sent {message_id}", next=step.next, last_message_id=message_id)

    def _test(self, run: Run, step: BranchStep, go: _Go, now: datetime) -> bool:
        if step.condition is not None:
            profile = go.profile(run.profile_id)
            return profile is not None and matches(step.condition, profile, now)
        if run.last_message_id is None or step.email is None:
            return False  # this run has sent nothing yet

        return engaged(run.last_message_id, step.email)


def timer_key(run: Run) -> str:
    return f"{run.run_id}:{run.seq}"


def _cancel_timer(run: Run) -> None:
    """The run left a wait before its timer: drop the timer (if it still fires, it finds nothing to do)."""
    timers.cancel(TIMER_KIND, timer_key(run))


def on_timer(timer: Timer) -> None:
    """TimerFunction's journey handler: carry the run on. A stale or repeated timer finds the run moved
    on (waiting elsewhere, or exited) and changes nothing."""
    run_id = timer.payload.get("runId")
    if not isinstance(run_id, str):
        logger.warning("journey timer without a run id", key=timer.key)
        return
    Engine().resume(run_id)

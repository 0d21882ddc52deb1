"""What a batch of profile changes means for journeys: runs to wake, people to enroll.

Called by the profile stream handler (handlers.audience_stream) after segment membership, with the batch's
changes and the segment entries and exits they caused:

1. waits for an event: each changed person whose activity went up is looked up in the waiting-run index
   (one Query per such person, never a scan); a run waiting for one of the keys that went up moves on;
2. triggers: the live journeys (one Query of the live index per batch, only when something could trigger)
   are matched against segment entries, activity increases (event and form triggers) and stage changes,
   and the person is enrolled under the journey's re-entry rule.

A redelivered stream record carries the same profile version, which the enrollment remembers: it starts
nothing a second time (it only carries on the run it started, in case the first delivery stopped midway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from journeys import store
from journeys.engine import Engine
from journeys.models import (
    EventTrigger,
    FormTrigger,
    Journey,
    Reentry,
    Run,
    SegmentEntryTrigger,
    StageTrigger,
    may_enter,
    run_id_for,
    trigger_activity_key,
)
from leadstream import clock

if TYPE_CHECKING:
    from audience.segments import SegmentChange
    from journeys.engine import Engine
    from leadstream.profiles import ProfileChange
    from leadstream.scores import Stage

logger = Logger(child=True)


@dataclass(frozen=True)
class Signal:
    """What one profile write showed about its person."""

    profile_id: str
    version: int  # the profile's version after the write: what a redelivery repeats
    increases: frozenset[str]  # activity keys that went up
    new_stage: Stage | None  # the stage it changed to, if it changed


def signals_of(changes: Sequence[ProfileChange]) -> list[Signal]:
    """The writes that could wake or enroll anyone (live people only; absorbed profiles are history)."""
    found = []
    for change in changes:
        new = change.new
        if new is None or new.merged_into:
            continue
        increases = frozenset(change.activity_increases())
        old_stage = change.old.stage if change.old is not None else None
        new_stage = new.stage if new.stage is not None and new.stage != old_stage else None
        if increases or new_stage is not None:
            found.append(Signal(new.profile_id, new.version, increases, new_stage))
    return found


def on_profile_changes(changes: Sequence[ProfileChange], segment_changes: Sequence[SegmentChange]) -> None:
    signals = signals_of(changes)
    entries = [change for change in segment_changes if change.entered]
    if not signals and not entries:
        return
    engine = Engine()
    for signal in signals:
        if signal.increases:
            wake_waiting_runs(engine, signal)
    live = store.live_journeys()
    if not live:
        return
    versions = {signal.profile_id: signal.version for signal in signals}
    for change in changes:  # a segment entry is stamped with its person's latest version in the batch
        if change.new is not None:
            versions[change.new.profile_id] = max(versions.get(change.new.profile_id, 0), change.new.version)
    now = clock.now()
    for journey in live:
        for profile_id, version in triggered(journey, signals, entries, versions):
            enroll(engine, journey, profile_id, trigger_version=version, now=now)


def wake_waiting_runs(engine: Engine, signal: Signal) -> None:
    for run in store.runs_waiting_for_events(signal.profile_id):
        if run.wait_event in signal.increases:
            engine.on_event(run, run.wait_event)


def triggered(
    journey: Journey, signals: Sequence[Signal], entries: Sequence[SegmentChange], versions: dict[str, int]
) -> list[tuple[str, int | None]]:
    """(profile id, trigger version) of each person the batch brings into `journey`, in batch order."""
    trigger = journey.live_trigger
    if isinstance(trigger, SegmentEntryTrigger):
        return [
            (entry.profile_id, versions.get(entry.profile_id))
            for entry in entries
            if entry.segment_id == trigger.segment_id
        ]
    if isinstance(trigger, EventTrigger | FormTrigger):
        key = trigger_activity_key(trigger)
        return [(signal.profile_id, signal.version) for signal in signals if key in signal.increases]
    if isinstance(trigger, StageTrigger):
        return [
            (signal.profile_id, signal.version) for signal in signals if signal.new_stage == trigger.stage
        ]
    return []


def enroll(
    engine: Engine, journey: Journey, profile_id: str, *, trigger_version: int | None, now: datetime
) -> Run | None:
    """Start a run of the journey's live version for the person, if the re-entry rule allows it, and
    execute it up to its first wait. None: not enrolled (refused, or a repeat of an enrollment)."""
    if journey.live_version is None:
        return None
    enrollment = store.get_enrollment(journey.journey_id, profile_id)
    if (
        enrollment is not None
        and trigger_version is not None
        and enrollment.trigger_version is not None
        and trigger_version <= enrollment.trigger_version
    ):
        if enrollment.active_run:  # the same record again: finish what its first delivery began
            engine.resume(enrollment.active_run)
        return None
    if not may_enter(journey.live_reentry or Reentry(), enrollment, now):
        return None
    version = store.get_version(journey.journey_id, journey.live_version)
    if version is None:
        raise RuntimeError(
            f"journey {journey.journey_id} is live on a missing version {journey.live_version}"
        )
    entry = (enrollment.entries if enrollment else 0) + 1
    run = Run(
        run_id=run_id_for(journey.journey_id, profile_id, entry),
        journey_id=journey.journey_id,
        profile_id=profile_id,
        entry=entry,
        version=version.version,
        step_id=version.definition.start,
        entered_at=now,
        step_entered_at=now,
        updated_at=now,
    )
    if not store.enroll(run, enrollment, trigger_version):
        logger.info("enrollment refused: changed meanwhile", journey=journey.journey_id, profile=profile_id)
        return None
    return engine.carry_on(run)

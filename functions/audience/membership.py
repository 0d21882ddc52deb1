"""Segment membership, one person at a time: from the profile stream, from the person's timer, and from the
backfill a new condition needs.

- `apply(changes)`: the stream's profile changes. Only a change to something a condition reads is
  evaluated (so the same image twice, or the stream echoing a bookkeeping write, costs nothing); the
  person is evaluated against every live segment, entries and exits are written, and the person's one
  timer is set for the earliest moment time alone could change a membership.
- `on_timer(timer)`: that timer fired (or a backfill page is due): re-read and re-evaluate.
- `start_backfill(segment)`: a created segment, or a changed condition, evaluates every known person
  once, a page at a time, chained through the timer queue. It starts at once.

Every evaluation uses the definitions as they are now. The registry (the live ids and a revision token
that every definition change replaces) is read with the people's memberships, in the same BatchGetItem,
and the definitions are read again (by id, consistently) only when its revision moved. An evaluation
that wrote something reads the revision once more afterwards (one GetItem) and, if a definition changed
meanwhile, evaluates the same people again with the new ones: nothing written with an old condition
outlives the backfill that started at the change. A backfill page writes only while its segment still
has the condition it evaluates.

All of it is idempotent: entries and exits are conditional writes (audience/store.py), the timer is
one schedule per person, and a backfill page acts only while the stored progress says it is due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from aws_lambda_powertools import Logger

from audience import store
from audience.segments import (
    Backfill,
    Segment,
    SegmentChange,
    audience_view,
    changes_between,
    next_evaluation,
    wanted_segments,
)
from leadstream import clock, timers
from leadstream.caches import ContainerDict
from leadstream.settings import get_settings
from leadstream.store.profiles import get_profile
from leadstream.timers import Timer

if TYPE_CHECKING:
    from leadstream.profiles import Profile, ProfileChange

logger = Logger(child=True)

BACKFILL_PAGE_SIZE = 100
# Evaluations of one batch that each found the definitions changed once it had written: then the batch
# fails and is retried (definition changes are rare; this many in a row is a storm, not a race).
MAX_EVALUATIONS = 3
TIMER_KIND: Final = "segment"


@dataclass(frozen=True)
class Definitions:
    """The live definitions at one revision of the registry (None: a table that has no registry yet)."""

    revision: str | None
    segments: tuple[Segment, ...]


# The definitions last read, per main table. Used only once the registry said they are still current, so
# functions sharing one process (the local stack) cannot hand each other stale copies.
_read: ContainerDict[str, Definitions] = ContainerDict()


def current_definitions() -> Definitions:
    """Every live definition as of now: one consistent GetItem of the registry, and, only when its revision
    moved since they were last read here, one consistent BatchGetItem of the definitions per 100."""
    return _definitions_at(store.read_registry())


def _held() -> Definitions:
    """The definitions last read here (to be checked against the registry), else the current ones."""
    return _read.get(get_settings().main_table) or current_definitions()


def _definitions_at(registry: store.Registry | None) -> Definitions:
    if registry is None:  # every segment predates the registry: the list index, read each time
        return Definitions(None, tuple(store.live_segments()))
    table = get_settings().main_table
    held = _read.get(table)
    if held is None or held.revision != registry.revision:
        found = store.segments_by_id(registry.segment_ids)
        held = _read[table] = Definitions(registry.revision, tuple(s for s in found if not s.archived))
    return held


def _revision(registry: store.Registry | None) -> str | None:
    return registry.revision if registry is not None else None


# --- the stream --------------------------------------------------------------------------------------------
def apply(changes: Sequence[ProfileChange]) -> list[SegmentChange]:
    """Entries and exits the batch's profile changes cause (an entry already made from the same profile
    version, by an earlier delivery of the batch, is reported again: entries are reported at least once)."""
    latest: dict[str, Profile | None] = {}
    relevant: set[str] = set()
    for change in changes:
        latest[change.profile_id] = change.new
        if audience_view(change.old) != audience_view(change.new):
            relevant.add(change.profile_id)
    if not relevant:
        return []
    return _evaluate({profile_id: latest[profile_id] for profile_id in relevant}, from_stream=True)


def _evaluate(people: Mapping[str, Profile | None], *, from_stream: bool) -> list[SegmentChange]:
    """Bring these people's memberships of every live segment in line with their profiles and set their
    timers; the changes made. If that wrote anything and the definitions moved meanwhile, again with the
    new ones: a backfill that started at the change may have evaluated them already."""
    definitions = _held()
    made: list[SegmentChange] = []
    for _ in range(MAX_EVALUATIONS):
        definitions, states = _current_states(definitions, people)
        changes, wrote = _reconcile_all(people, definitions.segments, states, from_stream=from_stream)
        made += changes
        if not wrote:
            return _once_each(made)
        registry = store.read_registry()
        if _revision(registry) == definitions.revision:
            return _once_each(made)
        logger.info("segment definitions changed during an evaluation: evaluating again", people=len(people))
        definitions = _definitions_at(registry)
    raise RuntimeError("segment definitions kept changing during the evaluation; it is retried")


def _current_states(
    held: Definitions, people: Mapping[str, Profile | None]
) -> tuple[Definitions, dict[str, store.AudienceState]]:
    """The people's memberships and timers, read with the registry; the definitions reloaded (and the
    memberships of their segments read) when its revision moved past the held ones."""
    ids = [segment.segment_id for segment in held.segments]
    states, registry = store.audience_states_and_registry(list(people), ids)
    if _revision(registry) == held.revision:
        return held, states
    current = _definitions_at(registry)
    ids = [segment.segment_id for segment in current.segments]
    return current, store.audience_states(list(people), ids)


def _reconcile_all(
    people: Mapping[str, Profile | None],
    segments: Sequence[Segment],
    states: Mapping[str, store.AudienceState],
    *,
    from_stream: bool,
) -> tuple[list[SegmentChange], bool]:
    """`_reconcile` for each person; the changes, and whether anything was written."""
    now = clock.now()
    made: list[SegmentChange] = []
    wrote = False
    for profile_id in sorted(people):
        changes, moved = _reconcile(
            profile_id, people[profile_id], segments, states[profile_id], now, from_stream=from_stream
        )
        made += changes
        wrote = wrote or moved
    return made, wrote


def _once_each(changes: list[SegmentChange]) -> list[SegmentChange]:
    """The changes without repeats: evaluating again reports an entry it made before once more."""
    last: dict[tuple[str, str], bool] = {}
    kept: list[SegmentChange] = []
    for change in changes:
        if last.get((change.segment_id, change.profile_id)) != change.entered:
            kept.append(change)
            last[(change.segment_id, change.profile_id)] = change.entered
    return kept


def _reconcile(
    profile_id: str,
    profile: Profile | None,
    segments: Sequence[Segment],
    state: store.AudienceState,
    now: datetime,
    *,
    from_stream: bool,
) -> tuple[list[SegmentChange], bool]:
    """Write the entries and exits that bring the stored memberships (of `segments`) in line with the
    profile, and set its timer; returns the changes made and whether anything was written.

    From the stream, an entry already stored from this very profile version (an earlier delivery of the
    same record made it) is returned again, so what follows the stream in the batch still hears of it.
    Elsewhere (timer, backfill) the profile was read, not delivered: each write is conditioned on the
    profile still being at that version, else the profile's own stream record decides.
    """
    wanted = wanted_segments(segments, profile, now) if profile is not None else set()
    current = set(state.segments) & {segment.segment_id for segment in segments}
    version = profile.version if profile is not None else None
    made = [
        change
        for change in changes_between(current, wanted, profile_id, now)
        if store.apply_change(change, profile_version=version, check_version=not from_stream)
    ]
    wrote = bool(made)
    if from_stream and version:
        made += [
            SegmentChange(segment_id, profile_id, True, now)
            for segment_id in sorted(wanted & current)
            if state.segments[segment_id] == version
        ]
    due = next_evaluation(segments, profile, now) if profile is not None else None
    return made, _set_timer(profile_id, due, state.timer_at, now) or wrote


def _set_timer(profile_id: str, due: datetime | None, pending: datetime | None, now: datetime) -> bool:
    """One schedule per person, at the earliest moment time alone changes a membership. The scheduler is
    called only when that moment moved (a fired timer is gone: it counts as none); True when it was."""
    if pending is not None and pending <= now:
        pending = None
    if due == pending:
        return False
    if due is not None:
        timers.schedule(Timer(kind=TIMER_KIND, key=profile_id, at=due, payload={"profileId": profile_id}))
    else:
        timers.cancel(TIMER_KIND, profile_id)
    store.record_timer(profile_id, due)  # after the schedule: a failure in between schedules again
    return True


# --- timers ---------------------------------------------------------------------------------------------
def on_timer(timer: Timer) -> list[SegmentChange]:
    """A person's segment timer, or a backfill page, came due: the entries and exits it made (the timer
    function hands them to the journeys, as the stream handler does). Repeats and stale firings are
    harmless: the person is simply evaluated again as they are now; a backfill page acts only once."""
    if "backfill" in timer.payload:
        return run_backfill_page(
            str(timer.payload["backfill"]), int(timer.payload["version"]), int(timer.payload["page"])
        )

    profile_id = str(timer.payload.get("profileId") or timer.key)
    return _evaluate({profile_id: get_profile(profile_id)}, from_stream=False)


# --- backfill ----------------------------------------------------------------------------------------------
def start_backfill(segment: Segment) -> Backfill:
    """Evaluate every known person once against `segment`'s condition, starting now: the definition was
    saved first, so every evaluation from here on uses it too. A newer condition replaces a running pass."""
    now = clock.now()
    backfill = Backfill(version=segment.condition_version, started_at=now)
    store.save_backfill(segment.segment_id, backfill, expected_page=None)
    _schedule_page(segment.segment_id, segment.condition_version, 0, now)
    return backfill


def _schedule_page(segment_id: str, version: int, page: int, at: datetime) -> None:
    payload = {"backfill": segment_id, "version": version, "page": page}
    timers.schedule(Timer(kind=TIMER_KIND, key=f"backfill:{segment_id}", at=at, payload=payload))


def run_backfill_page(segment_id: str, version: int, page: int) -> list[SegmentChange]:
    """One page of a backfill: a Query of known profiles, their memberships of this segment (one
    BatchGetItem), the entries and exits, then the progress and the next page's message."""
    segment = store.get_segment(segment_id)
    progress = segment.backfill if segment is not None else None
    if (
        segment is None
        or segment.archived
        or progress is None
        or progress.version != version
        or segment.condition_version != version
        or progress.done
    ):
        return []  # a newer pass, an archived segment, or a finished one: nothing to do
    now = clock.now()
    if progress.page == page + 1:  # a redelivery after the page was done: make sure the chain goes on
        _schedule_page(segment_id, version, page + 1, now)
        return []
    if progress.page != page:
        return []
    profiles, next_cursor = store.known_profiles_page(cursor=progress.cursor, limit=BACKFILL_PAGE_SIZE)
    made, complete = _backfill_page(segment, profiles, now)
    if not complete:  # the page stops; the pass of the new condition (if any) takes over
        logger.info("segment condition changed during a backfill page", segment=segment_id, page=page)
        return made
    done = next_cursor is None
    advanced = progress.model_copy(
        update={
            "page": page + 1,
            "cursor": next_cursor,
            "done": done,
            "evaluated": progress.evaluated + len(profiles),
            "finished_at": now if done else None,
        }
    )
    if store.save_backfill(segment_id, advanced, expected_page=page) and not done:
        _schedule_page(segment_id, version, page + 1, now)
    logger.info(
        "segment backfill page", segment=segment_id, page=page, profiles=len(profiles), changes=len(made)
    )
    return made


def _backfill_page(
    segment: Segment, profiles: Sequence[Profile], now: datetime
) -> tuple[list[SegmentChange], bool]:
    """Write the entries and exits of `segment` these people need, and move their timers earlier where it
    needs; the changes made, and False if the page stopped because the segment's condition changed (or
    it was archived): each write holds only while the condition is the one evaluated."""
    # The segment as this page reads it, with the other live definitions, decides each person's timer.
    others = [s for s in current_definitions().segments if s.segment_id != segment.segment_id]
    states = store.audience_states([p.profile_id for p in profiles], [segment.segment_id])
    made: list[SegmentChange] = []
    for profile in profiles:
        state = states[profile.profile_id]
        for change in changes_between(
            set(state.segments), wanted_segments([segment], profile, now), profile.profile_id, now
        ):
            try:
                if store.apply_change(
                    change,
                    profile_version=profile.version,
                    check_version=True,
                    condition_version=segment.condition_version,
                ):
                    made.append(change)
            except store.ConditionChanged:
                return made, False
        due = next_evaluation([*others, segment], profile, now)
        if due is not None and (state.timer_at is None or state.timer_at <= now or due < state.timer_at):
            _set_timer(profile.profile_id, due, state.timer_at, now)
    return made, True

"""Segment membership, one person at a time: from the profile stream, from the person's timer, and from the
backfill a new condition needs.

- `apply(changes)`: the stream's profile changes. Only a change to something a condition reads is
  evaluated (so the same image twice, or the stream echoing a bookkeeping write, costs nothing); the
  person is evaluated against every live segment (definitions cached per container for
  DEFINITIONS_TTL_SECONDS), entries and exits are written, and the person's one timer is set for the
  earliest moment time alone could change a membership.
- `on_timer(timer)`: that timer fired (or a backfill page is due): re-read and re-evaluate.
- `start_backfill(segment)`: a created segment, or a changed condition, evaluates every known person
  once, a page at a time, chained through the timer queue.

All of it is idempotent: entries and exits are conditional writes (store/segments.py), the timer is
one schedule per person, and a backfill page acts only while the stored progress says it is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
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
from leadstream.caches import TtlCache
from leadstream.settings import get_settings
from leadstream.timers import Timer

if TYPE_CHECKING:
    from leadstream.profiles import Profile, ProfileChange

logger = Logger(child=True)

DEFINITIONS_TTL_SECONDS = 60.0
# A backfill starts once every container has dropped the definitions it cached before the change, so no
# stream evaluation with the old condition can undo what the backfill writes.
BACKFILL_DELAY = timedelta(seconds=DEFINITIONS_TTL_SECONDS + 15)
BACKFILL_PAGE_SIZE = 100
TIMER_KIND: Final = "segment"

# Per main table: the local stack's functions share this module, and each reads its own table.
_definitions: TtlCache[str, list[Segment]] = TtlCache(now=clock.now)


def live_segments() -> list[Segment]:
    """Every live segment definition, read once per container and TTL (one Query)."""
    # By leadstream.clock, like the backfill's delay: moving the local clock past it expires the cache too.
    table = get_settings().main_table
    return list(_definitions.get(table, store.live_segments, max_age=DEFINITIONS_TTL_SECONDS))


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
    segments = live_segments()
    states = store.audience_states(relevant, [segment.segment_id for segment in segments])
    now = clock.now()
    found: list[SegmentChange] = []
    for profile_id in sorted(relevant):
        found += _reconcile(
            profile_id, latest[profile_id], segments, states[profile_id], now, from_stream=True
        )
    return found


def _reconcile(
    profile_id: str,
    profile: Profile | None,
    segments: Sequence[Segment],
    state: store.AudienceState,
    now: datetime,
    *,
    from_stream: bool,
) -> list[SegmentChange]:
    """Write the entries and exits that bring the stored memberships (of `segments`) in line with the
    profile, and set its timer; returns the changes made.

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
    if from_stream and version:
        made += [
            SegmentChange(segment_id, profile_id, True, now)
            for segment_id in sorted(wanted & current)
            if state.segments[segment_id] == version
        ]
    due = next_evaluation(segments, profile, now) if profile is not None else None
    _set_timer(profile_id, due, state.timer_at, now)
    return made


def _set_timer(profile_id: str, due: datetime | None, pending: datetime | None, now: datetime) -> None:
    """One schedule per person, at the earliest moment time alone changes a membership. The scheduler is
    called only when that moment moved (a fired timer is gone: it counts as none)."""
    if pending is not None and pending <= now:
        pending = None
    if due == pending:
        return
    if due is not None:
        timers.schedule(Timer(kind=TIMER_KIND, key=profile_id, at=due, payload={"profileId": profile_id}))
    else:
        timers.cancel(TIMER_KIND, profile_id)
    store.record_timer(profile_id, due)  # after the schedule: a failure in between schedules again


# --- timers ---------------------------------------------------------------------------------------------
def on_timer(timer: Timer) -> list[SegmentChange]:
    """A person's segment timer, or a backfill page, came due: the entries and exits it made (the timer
    function hands them to the journeys, as the stream handler does). Repeats and stale firings are
    harmless: the person is simply evaluated again as they are now; a backfill page acts only once."""
    if "backfill" in timer.payload:
        return run_backfill_page(
            str(timer.payload["backfill"]), int(timer.payload["version"]), int(timer.payload["page"])
        )
    from leadstream.store.profiles import get_profile

    profile_id = str(timer.payload.get("profileId") or timer.key)
    profile = get_profile(profile_id)
    segments = live_segments()
    state = store.audience_states([profile_id], [segment.segment_id for segment in segments])[profile_id]
    return _reconcile(profile_id, profile, segments, state, clock.now(), from_stream=False)


# --- backfill ----------------------------------------------------------------------------------------------
def start_backfill(segment: Segment) -> Backfill:
    """Evaluate every known person once against `segment`'s condition (after BACKFILL_DELAY, so every
    container evaluates with the new definition by then). A newer condition replaces a running pass."""
    now = clock.now()
    backfill = Backfill(version=segment.condition_version, started_at=now)
    store.save_backfill(segment.segment_id, backfill, expected_page=None)
    _schedule_page(segment.segment_id, segment.condition_version, 0, now + BACKFILL_DELAY)
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
    # The new definition itself, with the others as cached, decides each person's timer.
    segments = [s for s in live_segments() if s.segment_id != segment_id] + [segment]
    states = store.audience_states([p.profile_id for p in profiles], [segment_id])
    made: list[SegmentChange] = []
    for profile in profiles:
        state = states[profile.profile_id]
        wanted = wanted_segments([segment], profile, now)
        made += [
            change
            for change in changes_between(set(state.segments), wanted, profile.profile_id, now)
            if store.apply_change(change, profile_version=profile.version, check_version=True)
        ]
        due = next_evaluation(segments, profile, now)
        if due is not None and (state.timer_at is None or state.timer_at <= now or due < state.timer_at):
            _set_timer(profile.profile_id, due, state.timer_at, now)
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

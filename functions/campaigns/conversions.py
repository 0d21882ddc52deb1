"""Conversions of campaign and journey emails, from the profile stream (handlers.audience_stream calls
`on_profile_changes`).

A conversion is a goal activity (an event name, "Form Submitted:<formId>" ...) done by a person within the
goal's window after an email with that goal was sent to them: a started campaign's goal for its emails, a
journey's goal (the live version's `conversion`) for the emails of all its steps. For each changed profile:

1. `change.activity_increases()`: what the person just did (nothing: done, no read at all);
2. the published goals (one small partition, cached per container for a minute): none of them among
   those activities → done;
3. one Query on the person's send records by time (the by-profile index), back to the oldest window
   start among the matching goals;
4. each sent email whose campaign or journey has a matching goal, sent inside the window (and not after
   a journey's goal was retired), is marked `convertedAt` and counted in its campaign variant's or journey
   step's report, once (mail.outcomes.count_conversion), so a redelivered stream record, or the
   same goal done twice, converts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from campaigns import store
from campaigns.store import conversion_goals
from leadstream import clock
from leadstream.caches import TtlCache
from leadstream.settings import get_settings
from mail.outcomes import count_conversion, sends_of_profile
from mail.sends import SendRecord, SendStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from campaigns.models import ConversionGoal
    from campaigns.store import GoalEntry
    from leadstream.profiles import ProfileChange

GOALS_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class ConversionStore:
    goals: Callable[[], list[GoalEntry]]
    sends_of_profile: Callable[[str, datetime], list[SendRecord]]
    count_conversion: Callable[[SendRecord, datetime], bool]


# Per main table: the local stack's functions share this module, and each reads its own table.
_goals: TtlCache[str, list[GoalEntry]] = TtlCache(now=clock.now)


def cached_goals() -> list[GoalEntry]:
    """The published goals, read at most once a minute per container: a goal published by a campaign
    that just started, or a journey just published, is seen within a minute (its first emails are still
    being sent by then)."""
    return _goals.get(get_settings().main_table, conversion_goals, max_age=GOALS_CACHE_SECONDS)


def journey_goal_writes(
    journey_id: str, goal: ConversionGoal | None, at: datetime
) -> list[TransactWriteItemTypeDef]:
    """The transaction items that publish `goal` as the journey's conversion goal, or (None) retire its
    live one if it has one: journeys store them in the same transaction as the change that decides it."""
    if goal is not None:
        return [store.journey_goal_put(journey_id, goal, at=at)]
    current = store.get_conversion_goal("journey", journey_id)
    if current is None or current.retired_at is not None:
        return []
    return [store.goal_retirement(current, at=at)]


def dynamo_store() -> ConversionStore:
    return ConversionStore(
        goals=cached_goals, sends_of_profile=sends_of_profile, count_conversion=count_conversion
    )


def on_profile_changes(changes: Sequence[ProfileChange], store: ConversionStore | None = None) -> int:
    """Count the conversions these profile changes make; returns how many were counted now."""
    active = store
    counted = 0
    for change in changes:
        profile = change.new
        if profile is None or profile.merged_into:
            continue
        done = change.activity_increases()
        if not done:
            continue
        active = active or dynamo_store()
        counted += _convert(active, profile.profile_id, done, clock.now())
    return counted


def _convert(store: ConversionStore, profile_id: str, done: set[str], at: datetime) -> int:
    goals: dict[tuple[str, str], GoalEntry] = {
        (goal.kind, goal.owner_id): goal for goal in store.goals() if goal.activity_key in done
    }
    if not goals:
        return 0
    since = min(goal.window_start(at) for goal in goals.values())
    counted = 0
    for record in store.sends_of_profile(profile_id, since):
        goal = _goal_of(record, goals)
        if goal is None or record.status is not SendStatus.SENT or record.converted_at is not None:
            continue
        if record.sent_at is None or not goal.converts(record.sent_at, at):
            continue
        if store.count_conversion(record, at):
            counted += 1
    return counted


def _goal_of(record: SendRecord, goals: dict[tuple[str, str], GoalEntry]) -> GoalEntry | None:
    """The goal an email converts on: its campaign's, else its journey's."""
    if record.campaign_id:
        return goals.get(("campaign", record.campaign_id))
    if record.journey_id:
        return goals.get(("journey", record.journey_id))
    return None

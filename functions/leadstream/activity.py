"""What a person did, counted per UTC day: the behaviour that segments and journeys test.

`Profile.activity` maps an activity key (a track event's name, "Page Viewed", "Form Submitted:<formId>" ...)
to per-day counts: `{"Page Viewed": {"2026-11-23": 3}}`. The Scorer adds every *fresh* scored event once
(a redelivered event is recognised by the same dedupe window that keeps its points from counting twice),
so the counts are exact. Days older than ACTIVITY_DAYS before the newest counted day are dropped, as a
function of the counts alone, so any batching of the same events leaves the same counts.

"In the last D days" means the D UTC days ending today: on 2026-11-23, "the last 7 days" are 11-17 to 11-23.
A day leaves the window at midnight UTC, which is when a behaviour condition can change without any new
event (audience.conditions.next_change).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leadstream.events import TrackedEvent

# The longest window a condition may ask about; older days are pruned.
ACTIVITY_DAYS = 90
# Event names are free text: a profile keeps counts for at most this many keys (the ones seen most
# recently), so an integration that invents a name per event cannot grow the item without bound.
MAX_ACTIVITY_KEYS = 100
PAGE_VIEWED = "Page Viewed"
SCREEN_VIEWED = "Screen Viewed"
FORM_SUBMITTED = "Form Submitted"

Activity = dict[str, dict[str, int]]


def activity_keys(event: TrackedEvent) -> list[str]:
    """The activity keys one event counts for (none for identify/group/alias and scanner traffic)."""
    if _is_scanner(event.properties.get("scanner")):
        return []
    if event.type == "page":
        return [PAGE_VIEWED]
    if event.type == "screen":
        return [SCREEN_VIEWED]
    if event.type != "track" or not event.event:
        return []
    found = [event.event]
    form_id = event.properties.get("formId")
    if event.event == FORM_SUBMITTED and form_id not in (None, ""):
        found.append(f"{FORM_SUBMITTED}:{form_id}")
    return found


def _is_scanner(flag: object) -> bool:
    return flag in (True, "true", "1", 1)


def count_event(activity: Activity, event: TrackedEvent) -> Activity:
    """The counts with `event` added (on its UTC day), pruned; `activity` itself is not changed."""
    found = activity_keys(event)
    if not found:
        return activity
    day = event.timestamp.astimezone(UTC).date().isoformat()
    counted = {key: dict(days) for key, days in activity.items()}
    for key in found:
        per_day = counted.setdefault(key, {})
        per_day[day] = per_day.get(day, 0) + 1
    return prune(counted)


def merge(activity: Activity, other: Mapping[str, Mapping[str, int]]) -> Activity:
    """Both people's counts added (a merge of an anonymous profile into a known one)."""
    counted = {key: dict(days) for key, days in activity.items()}
    for key, days in other.items():
        per_day = counted.setdefault(key, {})
        for day, count in days.items():
            per_day[day] = per_day.get(day, 0) + int(count)
    return prune(counted)


def prune(activity: Activity) -> Activity:
    """Keep ACTIVITY_DAYS days back from the newest counted day and the MAX_ACTIVITY_KEYS latest keys."""
    newest = max((day for days in activity.values() for day in days), default=None)
    if newest is None:
        return {}
    oldest_kept = (date.fromisoformat(newest) - timedelta(days=ACTIVITY_DAYS - 1)).isoformat()
    kept = {
        key: {day: int(count) for day, count in days.items() if day >= oldest_kept and count}
        for key, days in activity.items()
    }
    kept = {key: days for key, days in kept.items() if days}
    if len(kept) > MAX_ACTIVITY_KEYS:
        recent = sorted(kept, key=lambda key: (max(kept[key]), key), reverse=True)[:MAX_ACTIVITY_KEYS]
        kept = {key: kept[key] for key in sorted(recent)}
    return kept


def window_start(now: datetime, days: int) -> date:
    """The first UTC day of "the last `days` days" at `now`."""
    return now.astimezone(UTC).date() - timedelta(days=days - 1)


def count_in_window(activity: Mapping[str, Mapping[str, int]], key: str, now: datetime, days: int) -> int:
    """How many times `key` happened in the last `days` UTC days (today included) at `now`."""
    first = window_start(now, days).isoformat()
    today = now.astimezone(UTC).date().isoformat()
    return sum(int(count) for day, count in activity.get(key, {}).items() if first <= day <= today)


def leaves_window(day: str, days: int) -> datetime:
    """The moment a counted day stops being in "the last `days` days": midnight UTC, `days` days later."""
    return datetime.combine(date.fromisoformat(day) + timedelta(days=days), time(0), tzinfo=UTC)


def totals(activity: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {key: sum(int(count) for count in days.values()) for key, days in activity.items()}


def activity_increases(
    before: Mapping[str, Mapping[str, int]], after: Mapping[str, Mapping[str, int]]
) -> set[str]:
    """The activity keys whose count went up from `before` to `after`: what the person did since
    (ProfileChange.activity_increases compares a write's two images).

    Compared per day, not by total, so a day pruned out of the window at the same time as a new event
    arrives still shows the new event.
    """
    return {
        key
        for key, days in after.items()
        if any(int(count) > int(before.get(key, {}).get(day, 0)) for day, count in days.items())
    }

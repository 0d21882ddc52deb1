"""Sending windows: when, in a person's own time zone, a journey may email them.

A window is a set of weekdays and a daily span (`09:00`-`17:00`, end excluded) in the person's time zone
(the trait `timezone`, when it is a valid IANA name; else the zone of where they were last seen, from
their IP address: the profile's `location`, tracking.geo) or else the journey's. Times are computed with
zoneinfo on local calendar days, so a window opens at 09:00 local time on both sides of a daylight
saving change; an opening that falls in a spring-forward gap (02:30 on the night clocks jump from 02:00
to 03:00) happens at the first real moment after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from journeys.models import SendingWindow, zone_or_none

TIMEZONE_TRAIT = "timezone"


def person_zone(window: SendingWindow, traits: Mapping[str, Any], located: str | None = None) -> ZoneInfo:
    """The person's own zone when their `timezone` trait names one, else the zone they were last seen in
    (`located`, from their IP address), else the window's."""
    return zone_or_none(traits.get(TIMEZONE_TRAIT)) or zone_or_none(located) or ZoneInfo(window.timezone)


def is_open(window: SendingWindow, zone: ZoneInfo, at: datetime) -> bool:
    local = at.astimezone(zone)
    return local.weekday() in window.weekdays and window.start_time <= local.time() < window.end_time


def next_opening(window: SendingWindow, zone: ZoneInfo, at: datetime) -> datetime:
    """`at` itself when the window is open then, else the next moment it opens (UTC)."""
    if is_open(window, zone, at):
        return at
    today = at.astimezone(zone).date()
    for days_ahead in range(8):  # every weekday comes round within a week (and one day for today's)
        day = today + timedelta(days=days_ahead)
        if day.weekday() not in window.weekdays:
            continue
        opening = _first_moment(datetime.combine(day, window.start_time), zone)
        if opening > at:
            return opening
    raise AssertionError("a window with at least one weekday opens within eight days")


def _first_moment(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC moment of a local wall-clock time. A time that does not exist (skipped by a DST jump) is
    read with the offset before the jump, which lands just after it; an ambiguous one is its first
    occurrence."""
    moment = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != local:
        # In the gap: the wall clock never shows `local`; the window opens when the clocks jump.
        return moment.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return moment


def push_into(window: SendingWindow | None, zone: ZoneInfo | None, at: datetime) -> datetime:
    """`at`, moved to the next opening when there is a window and it is closed then."""
    if window is None or zone is None:
        return at
    return next_opening(window, zone, at)

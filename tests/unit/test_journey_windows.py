"""Sending windows: open or not, the next opening, the person's own time zone, daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from journeys.models import SendingWindow
from journeys.windows import is_open, next_opening, person_zone

WEEKDAYS = SendingWindow(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00", timezone="UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_inside_the_window_is_now() -> None:
    monday_noon = utc(2026, 11, 23, 12, 0)
    assert is_open(WEEKDAYS, ZoneInfo("UTC"), monday_noon)
    assert next_opening(WEEKDAYS, ZoneInfo("UTC"), monday_noon) == monday_noon


def test_the_end_is_excluded_and_the_next_day_opens() -> None:
    assert next_opening(WEEKDAYS, ZoneInfo("UTC"), utc(2026, 11, 23, 17, 0)) == utc(2026, 11, 24, 9, 0)
    assert next_opening(WEEKDAYS, ZoneInfo("UTC"), utc(2026, 11, 23, 3, 0)) == utc(2026, 11, 23, 9, 0)


def test_a_weekend_waits_for_monday() -> None:
    friday_evening = utc(2026, 11, 27, 18, 30)
    assert next_opening(WEEKDAYS, ZoneInfo("UTC"), friday_evening) == utc(2026, 11, 30, 9, 0)


def test_the_persons_zone_wins_when_valid() -> None:
    assert person_zone(WEEKDAYS, {"timezone": "America/New_York"}) == ZoneInfo("America/New_York")
    assert person_zone(WEEKDAYS, {"timezone": "Mars/Olympus"}) == ZoneInfo("UTC")
    assert person_zone(WEEKDAYS, {"timezone": 5}) == ZoneInfo("UTC")
    assert person_zone(WEEKDAYS, {}) == ZoneInfo("UTC")
    new_york = ZoneInfo("America/New_York")
    # 13:00 UTC on a Monday is 08:00 in New York (EST, UTC-5): the window opens at 14:00 UTC.
    assert next_opening(WEEKDAYS, new_york, utc(2026, 11, 23, 13, 0)) == utc(2026, 11, 23, 14, 0)


def test_local_nine_oclock_on_both_sides_of_a_dst_change() -> None:
    # Berlin moves from CET (UTC+1) to CEST (UTC+2) on Sunday 2026-03-29.
    assert next_opening(WEEKDAYS, BERLIN, utc(2026, 3, 27, 20, 0)) == utc(2026, 3, 30, 7, 0)
    assert next_opening(WEEKDAYS, BERLIN, utc(2026, 3, 26, 20, 0)) == utc(2026, 3, 27, 8, 0)
    # ... and back on Sunday 2026-10-25.
    assert next_opening(WEEKDAYS, BERLIN, utc(2026, 10, 23, 20, 0)) == utc(2026, 10, 26, 8, 0)


def test_an_opening_in_the_spring_forward_gap_is_when_the_clocks_jump() -> None:
    night = SendingWindow(days=["sun"], start="02:30", end="05:00", timezone="Europe/Berlin")
    # 02:30 never happens in Berlin on 2026-03-29: clocks go from 02:00 CET to 03:00 CEST (01:00 UTC).
    assert next_opening(night, BERLIN, utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 0)


def test_a_window_to_midnight() -> None:
    late = SendingWindow(days=["mon"], start="20:00", end="24:00")
    zone = ZoneInfo("UTC")
    assert is_open(late, zone, utc(2026, 11, 23, 23, 59))
    assert next_opening(late, zone, utc(2026, 11, 24, 0, 0)) == utc(2026, 11, 30, 20, 0)

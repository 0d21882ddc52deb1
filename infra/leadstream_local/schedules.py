"""Scheduled functions (event types Schedule and ScheduleV2): `rate(...)` and AWS's 6-field `cron(...)`.

Each run invokes the function with EventBridge's "Scheduled Event" (or the event's `Input`, when the
template sets one), as EventBridge would. Runs are asynchronous: a failure is logged, not retried.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from leadstream_local.template import ACCOUNT_ID, REGION, STACK_NAME

log = logging.getLogger("leadstream_local")

SCHEDULE_TYPES = ("Schedule", "ScheduleV2")
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): index for index, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {name: index for index, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
# A cron that matches nothing within this many days never fires (e.g. a year long past).
_SEARCH_DAYS = 366 * 5

NextRun = Callable[[datetime], datetime | None]


@dataclass(frozen=True)
class Schedule:
    """A function's schedule event, as EventBridge (rule or scheduler) would run it."""

    function: str  # logical id
    event_name: str
    event_type: str  # Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler)
    expression: str
    input: str | None = None  # JSON text delivered instead of the Scheduled Event
    enabled: bool = True
    timezone: str = "UTC"
    region: str = REGION

    def __post_init__(self) -> None:
        parse_expression(self.expression, ZoneInfo(self.timezone))  # a bad expression fails at start

    @classmethod
    def from_properties(
        cls, function: str, event_name: str, event_type: str, props: Mapping[str, Any], region: str = REGION
    ) -> Schedule:
        expression = props.get("Schedule") or props.get("ScheduleExpression")
        if not expression:
            raise ValueError(f"{function}.{event_name}: a schedule event needs a schedule expression")
        state = str(props.get("State", "ENABLED")).upper()
        return cls(
            function=function,
            event_name=event_name,
            event_type=event_type,
            expression=str(expression),
            input=str(props["Input"]) if "Input" in props else None,
            enabled=bool(props.get("Enabled", True)) and state == "ENABLED",
            timezone=str(props.get("ScheduleExpressionTimezone", "UTC")),
            region=region,
        )

    @property
    def resource_arn(self) -> str:
        if self.event_type == "ScheduleV2":
            return f"arn:aws:scheduler:{self.region}:{ACCOUNT_ID}:schedule/default/{self.rule_name}"
        return f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{self.rule_name}"

    @property
    def rule_name(self) -> str:
        return f"{STACK_NAME}-{self.function}{self.event_name}"

    def next_run(self, after: datetime) -> datetime | None:
        return parse_expression(self.expression, ZoneInfo(self.timezone))(after)

    def event(self, at: datetime) -> Any:
        if self.input is not None:
            return json.loads(self.input)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events" if self.event_type == "Schedule" else "aws.scheduler",
            "account": ACCOUNT_ID,
            "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.resource_arn],
            "detail": {},
        }


def parse_expression(expression: str, zone: tzinfo = UTC) -> NextRun:
    """A function from a moment to the schedule's next run strictly after it (None: never again)."""
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        period = timedelta(seconds=int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")])
        if period <= timedelta(0):
            raise ValueError(f"{expression}: the rate must be positive")
        return lambda after: after + period
    if expression.startswith("cron(") and expression.endswith(")"):
        return _Cron.parse(expression[5:-1], zone).next_after
    raise ValueError(f"{expression!r} is neither rate(...) nor cron(...)")


@dataclass(frozen=True)
class _Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: "?"
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday ... 7 = Saturday, as in AWS
    years: frozenset[int]
    zone: tzinfo

    @classmethod
    def parse(cls, text: str, zone: tzinfo) -> _Cron:
        fields = text.split()
        if len(fields) != 6:
            raise ValueError(f"cron({text}): AWS cron has 6 fields (minutes hours day month weekday year)")
        minutes, hours, days, months, weekdays, years = fields
        if (days == "?") == (weekdays == "?"):
            raise ValueError(f"cron({text}): exactly one of day-of-month and day-of-week must be '?'")
        return cls(
            minutes=_field(minutes, 0, 59),
            hours=_field(hours, 0, 23),
            days=None if days == "?" else _field(days, 1, 31),
            months=_field(months, 1, 12, _MONTHS),
            weekdays=None if weekdays == "?" else _field(weekdays, 1, 7, _WEEKDAYS),
            years=_field(years, 1970, 2199),
            zone=zone,
        )

    def next_after(self, after: datetime) -> datetime | None:
        local = after.astimezone(self.zone)
        for offset in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            if not self._matches_day(day):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                    if candidate > local:
                        return candidate.astimezone(UTC)
        return None

    def _matches_day(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days is not None:
            return day.day in self.days
        aws_weekday = (day.weekday() + 1) % 7 + 1  # Python: Monday = 0; AWS: Sunday = 1
        return self.weekdays is not None and aws_weekday in self.weekdays


def _field(text: str, low: int, high: int, names: Mapping[str, int] | None = None) -> frozenset[int]:
    """One cron field: *, a value, a-b, */n, a/n, a-b/n, or a comma list of them."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(base, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high and step >= 1):
            raise ValueError(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: Mapping[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"cron value {text!r} is not supported locally (L, W and # are not emulated)")
    return int(text)


class Scheduler:
    """Runs each enabled schedule's function at its times, in a background thread.

    Times are read from `now`: the stack passes its local clock, so moving that clock forward runs what
    came due (once: runs skipped over are not made up, as after a machine's sleep). Call `clock_moved`
    when it moves, so the thread does not sleep through it.
    """

    def __init__(
        self,
        schedules: Mapping[Schedule, Callable[[Any], Any]],
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._invokers = dict(schedules)
        self._now = now
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if any(schedule.enabled for schedule in self._invokers):
            self._thread = threading.Thread(target=self._run, name="local-schedules", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def trigger(self, function: str, event_name: str | None = None) -> Any:
        """Run a function's schedule now, in this thread, and return what the handler returned."""
        for schedule, invoke in self._invokers.items():
            if schedule.function == function and event_name in (None, schedule.event_name):
                return invoke(schedule.event(self._now()))
        raise KeyError(f"{function} has no schedule {event_name or ''}".rstrip())

    def clock_moved(self) -> None:
        """The clock jumped: look at the schedules now rather than after the current wait."""
        self._wake.set()

    def _run(self) -> None:
        now = self._now()
        due: dict[Schedule, datetime | None] = {
            schedule: schedule.next_run(now) for schedule in self._invokers if schedule.enabled
        }
        while not self._stopping.is_set():
            upcoming = [moment for moment in due.values() if moment is not None]
            if not upcoming:
                return
            # Wake at least every minute so a changed wall clock cannot stall the schedule for long.
            wait = (min(upcoming) - self._now()).total_seconds()
            self._wake.wait(min(max(wait, 0.0), 60.0))
            self._wake.clear()
            if self._stopping.is_set():
                return
            now = self._now()
            for schedule, moment in due.items():
                if moment is not None and moment <= now:
                    self._launch(schedule, moment)
                    due[schedule] = _following(schedule, moment, now)

    def _launch(self, schedule: Schedule, moment: datetime) -> None:
        """Invoke asynchronously, as EventBridge does: a slow function does not hold up the others."""

        def run() -> None:
            try:
                self._invokers[schedule](schedule.event(moment))
            except Exception:
                log.exception("scheduled run of %s (%s) failed", schedule.function, schedule.expression)

        threading.Thread(target=run, name=f"schedule-{schedule.event_name}", daemon=True).start()


def _following(schedule: Schedule, moment: datetime, now: datetime) -> datetime | None:
    """The run after `moment`, keeping a rate's cadence; runs missed while the machine slept are skipped."""
    following = schedule.next_run(moment)
    if following is not None and following <= now:
        following = schedule.next_run(now)
    return following

"""Journeys: nurture sequences as a graph of steps that each person walks on their own clock.

A journey definition (what the marketing API takes and returns, docs/journeys.md has an example) is a
trigger, a re-entry rule, an optional sending window, an optional conversion goal, the start step and the
steps, keyed by step id:

    {"name": "Welcome", "trigger": {"type": "form", "formId": "newsletter"},
     "reentry": {"mode": "never"}, "start": "hello",
     "conversion": {"activityKey": "Order Completed", "windowDays": 7},
     "window": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00",
                "timezone": "Europe/Berlin"},
     "steps": {"hello": {"type": "send_email", "templateId": "tpl-1", "next": "pause"},
               "pause": {"type": "wait", "duration": {"days": 2}, "next": "opened"},
               "opened": {"type": "branch", "email": "opened", "yes": "a", "no": "b"},
               "a": {"type": "send_email", "templateId": "tpl-2", "next": "done"},
               "b": {"type": "send_email", "templateId": "tpl-3", "next": "done"},
               "done": {"type": "exit"}}}

Field checks are pydantic's (a 422 naming each field); `graph_problems` adds the checks that need the whole
graph (every `next` names a step, all steps reachable, every path can end, no loop without a wait). Every
saved definition is an immutable `JourneyVersion`; the `Journey` head says which version is live.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from audience.conditions import Condition
from campaigns.models import ConversionGoal
from leadstream.caches import container_cache
from leadstream.consents import TOPIC_ID_PATTERN
from leadstream.models import Model
from leadstream.numbers import StorableInt, StorableIntOrNone
from leadstream.profiles import UtcTime
from leadstream.scores import Stage
from mail.reports import EmailReport

MAX_STEPS = 100
MAX_WAIT = timedelta(days=366)
JOURNEY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
StepId = Annotated[str, StringConstraints(pattern=STEP_ID_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
# The activity key an event trigger or a wait for an event names (leadstream.activity): a track event's
# name, "Page Viewed", "Screen Viewed", "Form Submitted:<formId>".
ActivityKey = Text
FORM_SUBMITTED = "Form Submitted"
# Stages a journey may move a person forward to: later stages follow qualification and sales, and
# automatic changes never touch `other` (docs/scoring.md).
SETTABLE_STAGES = (Stage.SUBSCRIBER, Stage.LEAD)


class _Model(Model):
    # defer_build (on every model here): validators are built on first use, not at import; the
    # email API imports these models for its route declarations (docs/api.md, "Cold start").
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid", frozen=True)


class Duration(_Model):
    """A length of time: `{"days": 2}`, `{"hours": 4, "minutes": 30}` (at least a minute, at most a year)."""

    days: StorableInt = Field(default=0, ge=0, le=366)
    hours: StorableInt = Field(default=0, ge=0, le=10_000)
    minutes: StorableInt = Field(default=0, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _sensible(self) -> Duration:
        if not timedelta(minutes=1) <= self.delta <= MAX_WAIT:
            raise ValueError("a duration is at least one minute and at most 366 days")
        return self

    @property
    def delta(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)


# --- triggers --------------------------------------------------------------------------------------------
class SegmentEntryTrigger(_Model):
    """A person enters a segment."""

    type: Literal["segment_entry"]
    segment_id: Text = Field(alias="segmentId")


class EventTrigger(_Model):
    """A person does something: an activity key (a track event's name, "Page Viewed" ...)."""

    type: Literal["event"]
    event: ActivityKey


class FormTrigger(_Model):
    """A person submits a form (the activity key "Form Submitted:<formId>")."""

    type: Literal["form"]
    form_id: Text = Field(alias="formId")


class StageTrigger(_Model):
    """A person's lifecycle stage changes to `stage`."""

    type: Literal["stage"]
    stage: Stage


Trigger = Annotated[
    SegmentEntryTrigger | EventTrigger | FormTrigger | StageTrigger, Field(discriminator="type")
]


def trigger_activity_key(trigger: Trigger) -> str | None:
    """The activity key whose increase fires an event or form trigger (None for the other kinds)."""
    if isinstance(trigger, EventTrigger):
        return trigger.event
    if isinstance(trigger, FormTrigger):
        return f"{FORM_SUBMITTED}:{trigger.form_id}"
    return None


class Reentry(_Model):
    """Whether a person may walk the journey again: `never`; `after_exit` (once the previous run has
    ended); `cooldown` (once the previous run has ended and at least `cooldown` has passed since it began)."""

    mode: Literal["never", "after_exit", "cooldown"] = "never"
    cooldown: Duration | None = None

    @model_validator(mode="after")
    def _cooldown_fits_mode(self) -> Reentry:
        if (self.mode == "cooldown") != (self.cooldown is not None):
            raise ValueError("`cooldown` is required with mode 'cooldown' and only there")
        return self


# --- sending window --------------------------------------------------------------------------------------
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


def zone_or_none(name: object) -> ZoneInfo | None:
    """The IANA time zone called `name`, or None when it is not one (traits are typed by people)."""
    if not isinstance(name, str) or not name or len(name) > 64 or name not in _zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@container_cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())  # reads the zone database from disk: once per container


class SendingWindow(_Model):
    """Emails go out only on `days` between `start` and `end` (local time, end excluded): in the person's
    time zone (the trait `timezone`, an IANA name) when it is valid, else in `timezone`."""

    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: ClockTime = "09:00"
    end: ClockTime = "17:00"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone_or_none(value) is None:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Berlin', 'America/New_York')")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> SendingWindow:
        if self.start_time >= self.end_time and self.end != "24:00":
            raise ValueError("`start` must be before `end` (a window within one day)")
        return self

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.max if self.end == "24:00" else time.fromisoformat(self.end)

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(day) for day in self.days)


# --- steps -------------------------------------------------------------------------------------------------
class SendEmailStep(_Model):
    """Send a template: `templateVersion`, or the template's latest version when the journey is published."""

    type: Literal["send_email"]
    template_id: Text = Field(alias="templateId")
    template_version: StorableIntOrNone = Field(default=None, alias="templateVersion", ge=1)
    # The subscription topic: people who opted out of it are skipped (none: only their `email` consent).
    topic_id: str | None = Field(default=None, alias="topicId", pattern=TOPIC_ID_PATTERN)
    next: StepId | None = None


class WaitStep(_Model):
    type: Literal["wait"]
    duration: Duration
    next: StepId | None = None


class WaitUntilStep(_Model):
    """Wait until a moment (no wait at all once it has passed)."""

    type: Literal["wait_until"]
    at: UtcTime
    next: StepId | None = None


class WaitForEventStep(_Model):
    """Wait for the person to do something (`next`), at most `timeout` (then `timeoutNext`)."""

    type: Literal["wait_for_event"]
    event: ActivityKey
    timeout: Duration
    next: StepId | None = None
    timeout_next: StepId | None = Field(default=None, alias="timeoutNext")


class BranchStep(_Model):
    """If-else: a condition on the profile (audience.conditions), or whether the person opened or clicked
    the last email this run sent. `yes` or `no` follows; a missing one ends the run."""

    type: Literal["branch"]
    condition: Condition | None = None
    email: Literal["opened", "clicked"] | None = None
    yes: StepId | None = None
    no: StepId | None = None

    @model_validator(mode="after")
    def _one_test(self) -> BranchStep:
        if (self.condition is None) == (self.email is None):
            raise ValueError("a branch tests either a `condition` or an `email` engagement, exactly one")
        return self


class AddTagStep(_Model):
    type: Literal["add_tag"]
    tag: Text
    next: StepId | None = None


class RemoveTagStep(_Model):
    type: Literal["remove_tag"]
    tag: Text
    next: StepId | None = None


class ChangeScoreStep(_Model):
    """Add (or with negative points, take away) engagement points."""

    type: Literal["change_score"]
    points: StorableInt = Field(ge=-1000, le=1000)
    next: StepId | None = None

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("points must not be 0")
        return value


class ChangeStageStep(_Model):
    """Move the person forward to `subscriber` or `lead` (never back: automatic changes only go forward)."""

    type: Literal["change_stage"]
    stage: Stage
    next: StepId | None = None

    @field_validator("stage")
    @classmethod
    def _settable(cls, value: Stage) -> Stage:
        if value not in SETTABLE_STAGES:
            raise ValueError("a journey may set subscriber or lead; later stages follow qualification")
        return value


class NotifyOwnerStep(_Model):
    """Email the person's sales owner (skipped, and recorded, when they have none)."""

    type: Literal["notify_owner"]
    message: str | None = Field(default=None, max_length=2000)
    next: StepId | None = None


class ExitStep(_Model):
    type: Literal["exit"]


Step = Annotated[
    SendEmailStep
    | WaitStep
    | WaitUntilStep
    | WaitForEventStep
    | BranchStep
    | AddTagStep
    | RemoveTagStep
    | ChangeScoreStep
    | ChangeStageStep
    | NotifyOwnerStep
    | ExitStep,
    Field(discriminator="type"),
]
ActionStep = AddTagStep | RemoveTagStep | ChangeScoreStep | ChangeStageStep
# Steps that take time whatever happens: a loop must contain one. (`wait_until` does not count: once its
# moment has passed it waits no more, and a loop through it would spin.)
WAITING_STEPS = (WaitStep, WaitForEventStep)


def successors(step: Step) -> dict[str, str | None]:
    """The step's outgoing edges by field name (`next`, `yes`, `no`, `timeoutNext`); None ends the run."""
    if isinstance(step, ExitStep):
        return {}
    if isinstance(step, BranchStep):
        return {"yes": step.yes, "no": step.no}
    if isinstance(step, WaitForEventStep):
        return {"next": step.next, "timeoutNext": step.timeout_next}
    return {"next": step.next}


class JourneyDefinition(_Model):
    """What a marketer writes: everything of a journey that versions."""

    name: Text
    description: str | None = Field(default=None, max_length=2000)
    trigger: Trigger
    reentry: Reentry = Field(default_factory=Reentry)
    window: SendingWindow | None = None
    # What counts as converting after one of this journey's emails (the campaigns' goal model): each
    # email step's report counts the people who did it within the window after that step's email.
    conversion: ConversionGoal | None = None
    start: StepId
    steps: dict[StepId, Step] = Field(min_length=1, max_length=MAX_STEPS)

    def send_steps(self) -> Iterator[tuple[str, SendEmailStep]]:
        for step_id, step in self.steps.items():
            if isinstance(step, SendEmailStep):
                yield step_id, step


def graph_problems(definition: JourneyDefinition) -> list[dict[str, str]]:
    """What is wrong with the graph, as {field, message} (empty: nothing)."""
    steps = definition.steps
    problems: list[dict[str, str]] = []
    if definition.start not in steps:
        problems.append({"field": "start", "message": f"there is no step {definition.start!r}"})
    for step_id, step in steps.items():
        for field, target in successors(step).items():
            if target is not None and target not in steps:
                problems.append(
                    {"field": f"steps.{step_id}.{field}", "message": f"there is no step {target!r}"}
                )
    if problems:
        return problems  # the rest reads the edges; with dangling ones its answers would only confuse
    edges = {
        step_id: [t for t in successors(step).values() if t is not None] for step_id, step in steps.items()
    }
    reachable = _reach(definition.start, edges)
    for step_id in steps:
        if step_id not in reachable:
            problems.append(
                {"field": f"steps.{step_id}", "message": "no path from `start` reaches this step"}
            )
    ends = _can_end(steps, edges)
    for step_id in steps:
        if step_id in reachable and step_id not in ends:
            problems.append(
                {
                    "field": f"steps.{step_id}",
                    "message": "no path from here reaches an exit: this loop never lets anyone out",
                }
            )
    for loop in _loops_without_wait(steps, edges):
        problems.append(
            {
                "field": f"steps.{loop[0]}",
                "message": "loop without a wait ("
                + " -> ".join([*loop, loop[0]])
                + "): add a wait step to it",
            }
        )
    return problems


def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _can_end(steps: dict[str, Step], edges: dict[str, list[str]]) -> set[str]:
    """Steps from which some path ends the run (an exit, or an edge left empty)."""
    ending = {
        step_id
        for step_id, step in steps.items()
        if isinstance(step, ExitStep) or any(target is None for target in successors(step).values())
    }
    incoming: dict[str, list[str]] = {step_id: [] for step_id in steps}
    for source, targets in edges.items():
        for target in targets:
            incoming[target].append(source)
    todo = list(ending)
    while todo:
        for source in incoming[todo.pop()]:
            if source not in ending:
                ending.add(source)
                todo.append(source)
    return ending


def _loops_without_wait(steps: dict[str, Step], edges: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per loop found among the steps that do not wait (depth-first, each step visited once)."""
    instant = {step_id for step_id, step in steps.items() if not isinstance(step, WAITING_STEPS)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    loops: list[list[str]] = []

    def visit(step_id: str) -> None:
        state[step_id] = 1
        path.append(step_id)
        for target in edges[step_id]:
            if target not in instant:
                continue
            if state.get(target) == 1:
                loops.append(path[path.index(target) :])
            elif target not in state:
                visit(target)
        path.pop()
        state[step_id] = 2

    for step_id in steps:  # dict order: the marketer's order, so the report is stable
        if step_id in instant and step_id not in state:
            visit(step_id)
    return loops


# --- stored journeys -------------------------------------------------------------------------------------
class JourneyStatus(StrEnum):
    DRAFT = "draft"  # never published: nobody enters
    LIVE = "live"  # new runs start on the live version
    PAUSED = "paused"  # nobody new enters; runs already in carry on
    ARCHIVED = "archived"  # deleted: nobody enters, runs exit at their next step


class JourneyVersion(Model):
    """One immutable saved definition (item `JOURNEY#<id>` / `VERSION#<n>`).

    `pins` is filled once, when the version is first published: the template version each send step
    sends (its own `templateVersion`, else the template's latest at that moment), so a run sends what
    was published however the templates change later.
    """

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore", frozen=True)

    journey_id: str = Field(alias="journeyId")
    version: int = Field(ge=1)
    definition: JourneyDefinition
    created_at: UtcTime = Field(alias="createdAt")
    created_by: str = Field(alias="createdBy")
    pins: dict[str, int] | None = None

    def template_version(self, step_id: str, step: SendEmailStep) -> int:
        if step.template_version is not None:
            return step.template_version
        if self.pins is None or step_id not in self.pins:
            raise ValueError(f"journey {self.journey_id} v{self.version} was not published (step {step_id})")
        return self.pins[step_id]


class Journey(Model):
    """The head item (`JOURNEY#<id>` / `JOURNEY`): name, status, the latest and the live version.

    While live it also carries the live version's trigger and re-entry rule, so the stream finds what
    to start with one Query of the live index.
    """

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    journey_id: str = Field(alias="journeyId")
    name: str
    status: JourneyStatus = JourneyStatus.DRAFT
    latest_version: int = Field(alias="latestVersion", ge=1)
    live_version: int | None = Field(default=None, alias="liveVersion")
    live_trigger: Trigger | None = Field(default=None, alias="liveTrigger")
    live_reentry: Reentry | None = Field(default=None, alias="liveReentry")
    created_at: UtcTime = Field(alias="createdAt")
    created_by: str = Field(alias="createdBy")
    updated_at: UtcTime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")


class JourneySummary(Model):
    """A journey's head as the API shows it: its status, and its latest and live versions."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    journey_id: str = Field(alias="journeyId")
    name: str
    status: JourneyStatus
    latest_version: int = Field(alias="latestVersion", description="the latest saved version (the ETag)")
    live_version: int | None = Field(default=None, alias="liveVersion", description="the published one")
    created_at: UtcTime = Field(alias="createdAt")
    created_by: str = Field(alias="createdBy")
    updated_at: UtcTime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")

    @classmethod
    def of(cls, journey: Journey) -> JourneySummary:
        return cls.model_validate(journey.model_dump(include=set(cls.model_fields)))


class JourneyDocument(JourneyDefinition):
    """A journey as the API shows it: its head (status, latest and live version) and one version's
    definition (the latest, or the one asked for)."""

    model_config = ConfigDict(defer_build=True, serialize_by_alias=True)

    journey_id: str = Field(alias="journeyId")
    status: JourneyStatus
    latest_version: int = Field(alias="latestVersion")
    live_version: int | None = Field(default=None, alias="liveVersion")
    created_at: UtcTime = Field(alias="createdAt")
    created_by: str = Field(alias="createdBy")
    updated_at: UtcTime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")
    version: int = Field(description="the version of the definition shown (its ETag)")
    version_created_at: UtcTime = Field(alias="versionCreatedAt")
    version_created_by: str = Field(alias="versionCreatedBy")
    pins: dict[str, int] | None = Field(
        default=None,
        description="each email step's template version, fixed when this version was first published",
    )

    @classmethod
    def of(cls, journey: Journey, version: JourneyVersion) -> JourneyDocument:
        return cls.model_validate(
            {
                **JourneySummary.of(journey).model_dump(),
                **dict(version.definition),
                "version": version.version,
                "version_created_at": version.created_at,
                "version_created_by": version.created_by,
                "pins": version.pins,
            }
        )


class PublishRequest(Model):
    """The body of POST .../publish: which saved version goes live."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    version: StorableInt = Field(ge=1)


class StepReport(Model):
    """One step: how many runs reached it, wait there now and exited there, and its emails' counters."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    step_id: str = Field(alias="stepId")
    type: str | None = Field(description="null for a step the latest version no longer has")
    reached: int = 0
    waiting: int = 0
    exited: int = 0
    email: EmailReport | None = Field(default=None, description="for a step that sends email")


class JourneyReport(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    journey_id: str = Field(alias="journeyId")
    status: JourneyStatus
    steps: list[StepReport]


# --- runs ---------------------------------------------------------------------------------------------------
class RunStatus(StrEnum):
    ACTIVE = "active"  # executing steps (or interrupted while doing so: any wake-up carries on)
    WAITING = "waiting"  # at a wait (or a send outside the window) until a timer or an event
    EXITED = "exited"


class RunLog(Model):
    """One step a run took: which, when, and what came of it (`sent <messageId>`, `yes`, `timeout` ...)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore", frozen=True)

    step: str
    seq: int
    at: UtcTime
    outcome: str


MAX_RUN_LOG = 50  # the newest entries are kept; the counters keep the totals


def run_id_for(journey_id: str, profile_id: str, entry: int) -> str:
    """A run's id: unique among all journeys (timer keys are), and it says where the run is stored."""
    return f"{journey_id}.{profile_id}.{entry}"


def parse_run_id(run_id: str) -> tuple[str, str, int]:
    """(journey id, profile id, entry number) of a run id; ValueError when it is not one."""
    journey_id, _, rest = run_id.partition(".")
    profile_id, _, entry = rest.rpartition(".")
    if not (journey_id and profile_id and entry.isdigit()):
        raise ValueError(f"{run_id!r} is not a journey run id")
    return journey_id, profile_id, int(entry)


class Run(Model):
    """One person's walk through one version of a journey (item `JRUN#<journey>#<profile>` / `RUN#<n>`).

    `seq` counts the run's moves; every move is a write conditional on the `seq` (and status) read, so of
    two deliveries that try the same move exactly one makes it.
    """

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    run_id: str = Field(alias="runId")
    journey_id: str = Field(alias="journeyId")
    profile_id: str = Field(alias="profileId")
    entry: int = Field(ge=1)
    version: int = Field(ge=1)
    status: RunStatus = RunStatus.ACTIVE
    step_id: str = Field(alias="stepId")
    seq: int = 0
    entered_at: UtcTime = Field(alias="enteredAt")
    step_entered_at: UtcTime = Field(alias="stepEnteredAt")
    updated_at: UtcTime = Field(alias="updatedAt")
    wake_at: UtcTime | None = Field(default=None, alias="wakeAt")
    wait_event: str | None = Field(default=None, alias="waitEvent")
    last_message_id: str | None = Field(default=None, alias="lastMessageId")
    exited_at: UtcTime | None = Field(default=None, alias="exitedAt")
    exit_reason: str | None = Field(default=None, alias="exitReason")
    log: list[RunLog] = Field(default_factory=list)

    def moved(self, step_id: str, outcome: str, at: datetime, **changes: Any) -> Run:
        """The run after leaving its step (with `outcome`) for `step_id`."""
        return self._next(at, outcome, step_id=step_id, step_entered_at=at, **changes)

    def exited(self, outcome: str, reason: str, at: datetime, **changes: Any) -> Run:
        return self._next(at, outcome, status=RunStatus.EXITED, exited_at=at, exit_reason=reason, **changes)

    def waiting(self, until: datetime, at: datetime, event: str | None = None) -> Run:
        """The run at its step until `until` (or `event`): the same move (`seq`), now waiting."""
        return self.model_copy(
            update={"status": RunStatus.WAITING, "wake_at": until, "wait_event": event, "updated_at": at}
        )

    def _next(self, at: datetime, outcome: str, **changes: Any) -> Run:
        entry = RunLog(step=self.step_id, seq=self.seq, at=at, outcome=outcome)
        update = {
            "status": RunStatus.ACTIVE,
            "seq": self.seq + 1,
            "updated_at": at,
            "wake_at": None,
            "wait_event": None,
            "log": [*self.log, entry][-MAX_RUN_LOG:],
            **changes,
        }
        return self.model_copy(update=update)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class Enrollment(Model):
    """A person's history with a journey (`JRUN#<journey>#<profile>` / `ENROLLMENT`): how many runs they
    began, the one in progress, and the profile version that started the latest (a redelivered stream
    record carries the same version and starts nothing)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    entries: int = 0
    active_run: str | None = Field(default=None, alias="activeRun")
    last_entered_at: UtcTime | None = Field(default=None, alias="lastEnteredAt")
    last_exited_at: UtcTime | None = Field(default=None, alias="lastExitedAt")
    trigger_version: int | None = Field(default=None, alias="triggerVersion")


def may_enter(rule: Reentry, enrollment: Enrollment | None, now: datetime) -> bool:
    """The re-entry rule: whether a person with this history may begin another run now."""
    if enrollment is None or enrollment.entries == 0:
        return True
    if rule.mode == "never" or enrollment.active_run is not None:
        return False
    if rule.mode == "after_exit":
        return True
    assert rule.cooldown is not None
    last = enrollment.last_entered_at
    return last is None or now - last >= rule.cooldown.delta

"""Journey definitions through the API: create, change (a new immutable version each time), publish a
version, pause, archive, and read runs and the report.

Saving checks the fields (pydantic: a 422 per field), the graph (journeys.models.graph_problems) and
that every email step names a template (and version) that exists. A change or an archive is made on the
version the caller read (`check_version`: the API's If-Match, against the latest version) and stored only
if that version is still the latest; publish and pause check it only when given (they change which
version is live, not the versions). Publishing pins each email step's template version and publishes the
version's conversion goal (a version without one, or archiving, retires the journey's goal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeys import store
from journeys.models import (
    Journey,
    JourneyDefinition,
    JourneyReport,
    JourneyStatus,
    JourneyVersion,
    Run,
    StepReport,
    graph_problems,
)
from leadstream import clock, keys
from leadstream.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from mail.outcomes import report_for
from mail.reports import Counters
from mail.templates import latest_of, versions_of
from mail.topics import find_topic


@dataclass(frozen=True)
class Journeys:
    now: Callable[[], datetime] = clock.now

    def create(
        self, definition: JourneyDefinition, *, user: str, new_id: str | None = None
    ) -> tuple[Journey, JourneyVersion]:
        """A draft journey at version 1; its id is made from `new_id` (a UUID; a create retried with the
        same Idempotency-Key has the same one, and then finds the journey its first try stored)."""
        check(definition)
        now = self.now()
        journey_id = keys.short_id("jrn", new_id)
        journey = Journey(
            journey_id=journey_id,
            name=definition.name,
            latest_version=1,
            created_at=now,
            created_by=user,
            updated_at=now,
            updated_by=user,
        )
        version = JourneyVersion(
            journey_id=journey_id, version=1, definition=definition, created_at=now, created_by=user
        )
        if store.create(journey, version):
            return journey, version
        earlier = store.get_journey(journey_id)
        if earlier is None or earlier.created_by != user:
            raise Conflict(f"Journey id {journey_id} is taken; retry with a new Idempotency-Key.")
        return self.get(journey_id)

    def get(self, journey_id: str, version: int | None = None) -> tuple[Journey, JourneyVersion]:
        journey = self._journey(journey_id)
        number = version if version is not None else journey.latest_version
        found = store.get_version(journey_id, number)
        if found is None:
            raise NotFound(f"Journey {journey_id!r} has no version {number}.")
        return journey, found

    def update(
        self,
        journey_id: str,
        definition: JourneyDefinition,
        *,
        check_version: Callable[[int], None],
        user: str,
    ) -> tuple[Journey, JourneyVersion]:
        journey = self._live_for_change(journey_id, check_version)
        check(definition)
        now = self.now()
        version = JourneyVersion(
            journey_id=journey_id,
            version=journey.latest_version + 1,
            definition=definition,
            created_at=now,
            created_by=user,
        )
        if not store.add_version(version, name=definition.name):
            raise _stale(self._journey(journey_id))
        return self._journey(journey_id), version

    def archive(self, journey_id: str, *, check_version: Callable[[int], None], user: str) -> None:
        journey = self._live_for_change(journey_id, check_version)
        if not store.set_status(
            journey_id,
            JourneyStatus.ARCHIVED,
            at=self.now(),
            user=user,
            expected_version=journey.latest_version,
        ):
            raise _stale(self._journey(journey_id))

    def publish(
        self,
        journey_id: str,
        version_number: int,
        *,
        user: str,
        check_version: Callable[[int], None] | None = None,
    ) -> tuple[Journey, JourneyVersion]:
        journey, version = self.get(journey_id, version_number)
        if journey.status is JourneyStatus.ARCHIVED:
            raise Conflict(f"Journey {journey_id!r} is archived; create a new journey instead.")
        if check_version is not None:
            check_version(journey.latest_version)
        pins = version.pins if version.pins is not None else template_pins(version.definition)
        definition = version.definition
        if not store.publish(
            journey_id,
            version.version,
            pins=pins,
            trigger=definition.trigger,
            reentry=definition.reentry,
            conversion=definition.conversion,
            at=self.now(),
            user=user,
            latest_version=journey.latest_version if check_version is not None else None,
        ):
            now = self._journey(journey_id)
            if now.status is JourneyStatus.ARCHIVED:
                raise Conflict(f"Journey {journey_id!r} was archived meanwhile.")
            raise _stale(now)  # a version was saved since the one If-Match named
        return self.get(journey_id, version.version)

    def pause(
        self, journey_id: str, *, user: str, check_version: Callable[[int], None] | None = None
    ) -> Journey:
        journey = self._journey(journey_id)
        if check_version is not None:
            check_version(journey.latest_version)
        latest = journey.latest_version if check_version is not None else None
        if not store.set_status(
            journey_id, JourneyStatus.PAUSED, at=self.now(), user=user, expected_version=latest
        ):
            now = self._journey(journey_id)
            if now.status is not JourneyStatus.LIVE:
                raise Conflict(
                    f"Journey {journey_id!r} is {now.status.value}: only a live journey can be paused."
                )
            raise _stale(now)  # a version was saved since the one If-Match named
        return journey.model_copy(update={"status": JourneyStatus.PAUSED})

    def runs(
        self, journey_id: str, *, profile_id: str | None, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Run], Any]:
        self._journey(journey_id)
        if profile_id:
            return store.runs_of(journey_id, profile_id, limit=limit, start_key=start_key)
        return store.list_runs(journey_id, limit=limit, start_key=start_key)

    def report(self, journey_id: str) -> JourneyReport:
        """Per step of the latest version (then any other step that counted something): how many runs
        reached it, wait there now and exited there, and the email counters of its sends."""
        journey, version = self.get(journey_id)
        counts = store.step_counts(journey_id)
        emails = report_for("journey", journey_id)
        order = [
            *version.definition.steps,
            *sorted((set(counts) | set(emails)) - set(version.definition.steps)),
        ]
        steps = []
        for step_id in order:
            step = version.definition.steps.get(step_id)
            sends = step_id in emails or (step is not None and step.type == "send_email")
            steps.append(
                StepReport.model_validate(
                    {
                        "stepId": step_id,
                        "type": step.type if step is not None else None,
                        **counts.get(step_id, {}),
                        "email": emails.get(step_id, Counters()).report() if sends else None,
                    }
                )
            )
        return JourneyReport(journey_id=journey_id, status=journey.status, steps=steps)

    def _journey(self, journey_id: str) -> Journey:
        journey = store.get_journey(journey_id)
        if journey is None:
            raise NotFound(f"There is no journey {journey_id!r}.")
        return journey

    def _live_for_change(self, journey_id: str, check_version: Callable[[int], None]) -> Journey:
        journey = self._journey(journey_id)
        if journey.status is JourneyStatus.ARCHIVED:
            raise NotFound(f"Journey {journey_id!r} is archived.")
        check_version(journey.latest_version)
        return journey


def _stale(journey: Journey) -> PreconditionFailed:
    return PreconditionFailed(
        f"The journey changed meanwhile: it is at version {journey.latest_version} now. Read it again and "
        "re-apply your change."
    )


def check(definition: JourneyDefinition) -> None:
    """The checks beyond single fields: the graph, and that the templates exist."""
    problems = graph_problems(definition)
    if not problems:
        problems = _template_problems(definition)
    if problems:
        raise InvalidInput(
            "The journey is not valid: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5]),
            errors=problems,
        )


def _template_problems(definition: JourneyDefinition) -> list[dict[str, str]]:
    sends = list(definition.send_steps())
    if not sends:
        return []
    heads = latest_of({step.template_id for _, step in sends})
    pinned = versions_of(
        {(s.template_id, s.template_version) for _, s in sends if s.template_version is not None}
    )
    problems = []
    for step_id, step in sends:
        field = f"steps.{step_id}"
        head = heads.get(step.template_id)
        if head is None or head.archived:
            problems.append(
                {"field": f"{field}.templateId", "message": f"no live template {step.template_id!r}"}
            )
        elif step.template_version is not None and (step.template_id, step.template_version) not in pinned:
            problems.append(
                {
                    "field": f"{field}.templateVersion",
                    "message": f"template {step.template_id!r} has no version {step.template_version}",
                }
            )
    named = {step.topic_id for _, step in sends if step.topic_id is not None}
    live = {topic_id for topic_id in sorted(named) if (t := find_topic(topic_id)) and not t.archived}
    problems += [
        {"field": f"steps.{step_id}.topicId", "message": f"no live topic {step.topic_id!r}"}
        for step_id, step in sends
        if step.topic_id is not None and step.topic_id not in live
    ]
    return problems


def template_pins(definition: JourneyDefinition) -> dict[str, int]:
    """Each email step's template version: its own, else the template's latest now (422 if gone)."""
    problems = _template_problems(definition)
    if problems:
        raise InvalidInput("A template this journey sends is gone; fix the steps listed.", errors=problems)

    heads = latest_of({step.template_id for _, step in definition.send_steps()})
    return {
        step_id: step.template_version or heads[step.template_id].version
        for step_id, step in definition.send_steps()
    }

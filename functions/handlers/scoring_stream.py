"""Events table stream consumer: every new event resolves to a profile and is scored on it.

Each record is parsed on its own (a record that cannot be parsed is reported as a batch item failure);
the parsed events are then resolved and scored together, with one write per profile (identities, traits,
scores, tags, stage and a handoff decision travel in the same transaction). A storage failure raises, so
the stream retries the whole batch: safe, because resolution and scoring are idempotent (docs/identity.md,
docs/scoring.md). Handoffs decided are then completed (lead, owner, email, event); a handoff that fails
reports its profile's first record, so the retry carries on from there while the others are done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from integrations.changes import publish_form_submissions
from leadstream.events import TrackedEvent
from leadstream.store.profiles import DynamoProfileStore
from scoring.engagement import Scorer
from scoring.handoff import HandoffIncomplete, complete_handoff
from scoring.identity import Outcome, event_identities, resolve_events
from scoring.store.config import scoring_config
from tracking.store.timeline import profile_events

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse, PartialItemFailures
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from leadstream.profiles import Profile
    from scoring.identity import BatchResolution
    from scoring.rules import ScoringConfig

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def parse_record(record: DynamoDBRecord) -> TrackedEvent | None:
    """The event a stream record carries; None for records that are not new events."""
    if record.event_name != DynamoDBRecordEventName.INSERT:
        return None  # the trigger's filter drops these; the local stack may not
    event = TrackedEvent.from_item(record.dynamodb.new_image if record.dynamodb else {})
    if not event_identities(event):
        raise ValueError(f"event {event.message_id} has no userId, anonymousId or previousId")
    return event


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    with processor(records=event["Records"], handler=parse_record):
        results = processor.process()
    response = processor.response()
    if response["batchItemFailures"]:
        logger.warning(
            "stream records that are not readable events are reported as batch item failures",
            extra={
                "sequenceNumbers": [failure["itemIdentifier"] for failure in response["batchItemFailures"]],
                "errors": [_describe(exc_info[1]) for exc_info in processor.exceptions],
            },
        )
    parsed = [(record, result) for _, result, record in results if isinstance(result, TrackedEvent)]
    events = [event for _, event in parsed]
    config = scoring_config()
    outcome = resolve_events(events, DynamoProfileStore(), Scorer(config))
    failed_handoffs = complete_handoffs(outcome, parsed, config)
    failed_forms = publish_forms(parsed)
    response["batchItemFailures"] = sorted(
        [*response["batchItemFailures"], *failed_handoffs, *failed_forms],
        key=lambda failure: int(str(failure["itemIdentifier"])),
    )
    _report(
        outcome, len(events), len(response["batchItemFailures"]) - len(failed_handoffs) - len(failed_forms)
    )
    return response


def complete_handoffs(
    outcome: Outcome, parsed: list[tuple[dict[str, Any], TrackedEvent]], config: ScoringConfig
) -> list[PartialItemFailures]:
    """Complete every unfinished handoff of the batch's profiles; the failures to report, one per profile."""
    resolution = outcome.resolution
    pending = [
        profile
        for profile in resolution.profiles.values()
        if profile.merged_into is None
        and profile.score.handoff is not None
        and not profile.score.handoff.completed
    ]
    failures: list[PartialItemFailures] = []
    for profile in pending:
        try:
            result = complete_handoff(profile, config, _recent_activity)
        except Exception as exc:  # one person's failed handoff must not hold back the others
            logger.warning(
                "handoff not complete; the profile's records are retried",
                profile=profile.profile_id,
                error=_describe(exc),
                exc_info=not isinstance(exc, HandoffIncomplete),  # an unexpected failure: keep the trace
            )
            metrics.add_metric(name="HandoffsFailed", unit=MetricUnit.Count, value=1)
            first = _first_record_of(profile.profile_id, resolution, parsed)
            if first is not None:
                failures.append({"itemIdentifier": first})
            continue
        logger.info(
            "handoff completed",
            profile=profile.profile_id,
            number=result.number,
            email=result.email,
            event=result.event,
        )
        metrics.add_metric(name="HandoffsCompleted", unit=MetricUnit.Count, value=1)
        if "uncertain" in (result.email, result.event):
            metrics.add_metric(name="HandoffStepsUncertain", unit=MetricUnit.Count, value=1)
    return failures


def _first_record_of(
    profile_id: str, resolution: BatchResolution, parsed: list[tuple[dict[str, Any], TrackedEvent]]
) -> str | None:
    """The sequence number of the batch's first record about this profile (absorbed ones included)."""
    for record, event in parsed:
        owner = resolution.attributed.get((event.source_id, event.message_id))
        while owner is not None and owner != profile_id:
            owner = resolution.profiles[owner].merged_into if owner in resolution.profiles else None
        if owner == profile_id:
            return str(record["dynamodb"]["SequenceNumber"])
    return None


def _recent_activity(profile: Profile, limit: int) -> list[TrackedEvent]:
    events, _ = profile_events(profile.identities, limit=limit)
    return events


def publish_forms(parsed: list[tuple[dict[str, Any], TrackedEvent]]) -> list[PartialItemFailures]:
    """`form.submitted` on the bus for the batch's form submissions (the event catalog, docs/events.md),
    each once by its stable id; a record whose event the bus refused is reported for a retry."""
    by_message = {event.message_id: record for record, event in parsed}
    outcome = publish_form_submissions([
        {
            "event": event.event,
            "properties": event.properties,
            "messageId": event.message_id,
            "sourceId": event.source_id,
            "anonymousId": event.anonymous_id,
            "receivedAt": event.received_at.isoformat().replace("+00:00", "Z"),
        }
        for _, event in parsed
    ])  # fmt: skip
    return [
        {"itemIdentifier": str(by_message[message_id]["dynamodb"]["SequenceNumber"])}
        for message_id in outcome.failed_records
        if message_id in by_message
    ]


def _describe(error: BaseException | None) -> str:
    # The first line names the problem without echoing the record (which may hold personal data).
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def _report(outcome: Outcome, resolved: int, unreadable: int) -> None:
    resolution = outcome.resolution
    for conflict in resolution.conflicts:
        # Identity values are personal data: the log names the kind and the profiles, not the value.
        logger.warning(
            "identity conflict: the event links two known profiles, which are not merged automatically",
            extra={
                "identityKind": conflict.identity.kind,
                "attributedTo": conflict.attributed_to,
                "otherProfile": conflict.other_profile,
                "sourceId": conflict.event.source_id,
                "messageId": conflict.event.message_id,
            },
        )
    counts = {
        "EventsResolved": resolved,
        "UnreadableRecords": unreadable,
        "ProfilesCreated": len(resolution.created),
        "ProfilesMerged": len(resolution.merges),
        "IdentityConflicts": len(resolution.conflicts),
        "ProfileWrites": outcome.writes,
        "ProfileWriteRetries": outcome.attempts - 1,
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

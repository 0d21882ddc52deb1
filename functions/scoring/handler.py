"""Events table stream consumer: every new event resolves to a profile.

Each record is parsed on its own (a record that cannot be parsed is reported as a batch item failure);
the parsed events are then resolved together, with one write per profile. A storage failure raises, so
the stream retries the whole batch: safe, because resolution is idempotent (docs/identity.md).
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

from leadstream.events import TrackedEvent
from leadstream.store.profiles import DynamoProfileStore
from scoring.identity import Outcome, event_identities, resolve_events

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

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
    events = [result for _, result, _ in results if isinstance(result, TrackedEvent)]
    outcome = resolve_events(events, DynamoProfileStore())
    _report(outcome, len(events), len(response["batchItemFailures"]))
    return response


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

"""MainTable stream consumer, profile items only: what one person's change means for audiences.

Each record becomes a `ProfileChange` (the profile before and after). The batch's changes then go, in
order, to segment membership (which people entered or left which segments), journeys (triggers and
waits for an event) and campaign conversions. A failure raises, so the stream retries the batch (bisected
down to the failing record); every step is idempotent, so a retried record changes nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from audience import membership
from campaigns import conversions
from journeys import triggers
from leadstream.profiles import ProfileChange

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def parse_record(record: DynamoDBRecord) -> ProfileChange:
    data = record.dynamodb
    return ProfileChange.of_images(data.old_image if data else None, data.new_image if data else None)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    with processor(records=event["Records"], handler=parse_record):
        results = processor.process()
    changes = [result for _, result, _ in results if isinstance(result, ProfileChange)]
    react(changes)
    return processor.response()


def react(changes: list[ProfileChange]) -> None:
    """Everything a batch of profile changes sets off, in order (segments first: journeys read them)."""
    if not changes:
        return
    segment_changes = membership.apply(changes)
    if segment_changes:
        metrics.add_metric(
            name="SegmentEntries", unit=MetricUnit.Count, value=sum(c.entered for c in segment_changes)
        )
        metrics.add_metric(
            name="SegmentExits", unit=MetricUnit.Count, value=sum(not c.entered for c in segment_changes)
        )
    triggers.on_profile_changes(changes, segment_changes)
    conversions.on_profile_changes(changes)
    logger.debug("profile changes", count=len(changes), segmentChanges=len(segment_changes))

"""MainTable stream consumer, profile items only: what one person's change means for audiences.

Each record becomes a `ProfileChange` (the profile before and after). The batch's changes then go, in
order, to segment membership (which people entered or left which segments), journeys (triggers and
waits for an event) and campaign conversions. A failure raises, so the stream retries the batch (bisected
down to the failing record); every step is idempotent, so a retried record changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from leadstream.profiles import Profile

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@dataclass(frozen=True)
class ProfileChange:
    """One profile item write: before (None: new) and after (None: deleted)."""

    old: Profile | None
    new: Profile | None

    @property
    def profile_id(self) -> str:
        profile = self.new or self.old
        assert profile is not None
        return profile.profile_id


def parse_record(record: DynamoDBRecord) -> ProfileChange:
    data = record.dynamodb
    old = data.old_image if data else None
    new = data.new_image if data else None
    return ProfileChange(old=_profile(old), new=_profile(new))


def _profile(image: dict[str, Any] | None) -> Profile | None:
    return Profile.model_validate(image) if image else None


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
    from audience import membership

    segment_changes = membership.apply(changes)
    if segment_changes:
        metrics.add_metric(
            name="SegmentEntries", unit=MetricUnit.Count, value=sum(c.entered for c in segment_changes)
        )
        metrics.add_metric(
            name="SegmentExits", unit=MetricUnit.Count, value=sum(not c.entered for c in segment_changes)
        )
    from journeys.triggers import on_profile_changes as journeys_react

    journeys_react(changes, segment_changes)
    from campaigns.conversions import on_profile_changes as count_conversions

    count_conversions(changes)
    logger.debug("profile changes", count=len(changes), segmentChanges=len(segment_changes))

"""TimerFunction: each TimerQueue message is one `leadstream.timers.Timer` that came due.

EventBridge Scheduler puts the timer on the queue at its time; this hands it to the domain that set it,
by its kind. A handler that raises fails only its own message, which SQS delivers again after the
visibility timeout; every handler checks current state first, so a repeated or stale timer is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from audience import membership
from campaigns import launch
from journeys import engine, triggers
from leadstream.timers import Timer, TimerKind

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def segment_timer(timer: Timer) -> None:
    """A person's segment window edge, or a backfill page: entries made by time reach the journeys'
    segment triggers as the stream's do."""
    made = membership.on_timer(timer)
    if made:
        triggers.on_profile_changes([], made)


def campaign_timer(timer: Timer) -> None:
    """A scheduled start or an A/B decision."""
    launch.campaigns().on_timer(timer)


HANDLERS: dict[TimerKind, Callable[[Timer], None]] = {
    "segment": segment_timer,
    "journey": engine.on_timer,
    "campaign": campaign_timer,
}


def fire(record: SQSRecord) -> None:
    timer = Timer.model_validate_json(record.body)
    HANDLERS[timer.kind](timer)
    metrics.add_metric(name=f"TimersFired{timer.kind.title()}", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=fire, processor=processor, context=context)

"""Timer queue consumer: each message is one `leadstream.timers.Timer` that came due.

EventBridge Scheduler puts the timer on the queue at its time; this hands it to the handler of its kind.
A handler that raises fails only its own message, which SQS delivers again after the visibility timeout.
Handlers are imported when their kind first comes due, so the container pays only for what it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from leadstream.timers import Timer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)

# kind -> "module:function" taking the Timer.
HANDLERS: dict[str, str] = {
    "segment": "audience.membership:on_timer",
    "journey": "journeys.engine:on_timer",
    "campaign": "campaigns.fanout:on_timer",
}


def handler_for(kind: str) -> Callable[[Timer], None]:
    module, name = HANDLERS[kind].split(":")
    handler: Callable[[Timer], None] = getattr(importlib.import_module(module), name)
    return handler


def fire(record: SQSRecord) -> None:
    timer = Timer.model_validate_json(record.body)
    handler_for(timer.kind)(timer)
    metrics.add_metric(name=f"TimersFired{timer.kind.title()}", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=fire, processor=processor, context=context)

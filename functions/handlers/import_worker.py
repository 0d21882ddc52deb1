"""ImportWorkerFunction: each ImportQueue message is one step of an import (customerdata.importer): the
split of the uploaded file into chunks, one chunk's rows through identity resolution and scoring, or the
finish; or one step of an export (customerdata.exporter): pages of a segment or a CRM list into a CSV.
Bounded concurrency is the event source's MaximumConcurrency (template.yaml)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from customerdata import exporter
from customerdata.importer import handle
from scoring.engagement import Scorer
from scoring.store.config import scoring_config

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from scoring.identity import EventHook

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def _scorer() -> EventHook:
    # Imported rows are scored like tracked events: offline events as of their own time, with decay.
    return Scorer(scoring_config())


def handle_record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    if "exportId" in message:
        outcome = exporter.handle(message)
        logger.info("export step", extra={"exportId": message.get("exportId"), "done": outcome})
        return
    done = handle(message, _scorer)
    logger.info("import step", extra={"importId": message.get("importId"), "done": done})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )

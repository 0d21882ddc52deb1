"""FanoutFunction: each FanoutQueue message is one page of one campaign phase (campaigns.fanout)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from campaigns.config import campaign_settings
from campaigns.fanout import run_page_once
from campaigns.models import FanoutPage
from mail.config import get_email_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
# Fail at cold start when the stack was deployed without what every page needs.
campaign_settings()
get_email_settings().require_send_queue_url()


def handle_record(record: SQSRecord, context: LambdaContext | None) -> None:
    page = FanoutPage.model_validate_json(record.body)
    result = run_page_once(page, context)
    logger.info("fan-out page", extra={"page": page.model_dump(by_alias=True), "result": result})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=lambda record: handle_record(record, context),
        processor=processor,
        context=context,
    )

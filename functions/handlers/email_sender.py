"""Send-queue consumer: one SQS message per recipient, one email each (mail/sending.py).

The batch's records are parsed by Powertools' batch utility (an SQS record whose body is a SendRequest);
what the whole batch needs (send records, template versions, profiles, suppressions) is read first, one
BatchGetItem per kind. A record that fails is reported as a batch item failure (ReportBatchItemFailures),
so only it comes back after the visibility timeout; after maxReceiveCount it goes to the dead-letter queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json, ValidationError

from leadstream.caches import container_cache
from mail.config import get_email_settings
from mail.link_tokens import link_keys
from mail.sending import Outcome, Pacer, Prefetched, Sender, dynamo_store, prefetch, ses_mailer
from mail.sends import SendRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


class SendQueueRecord(SqsRecordModel):
    body: Json[SendRequest]


processor = BatchProcessor(
    event_type=EventType.SQS, model=SendQueueRecord, raise_on_entire_batch_failure=False
)
# Fail at cold start when the stack was deployed without what every email needs.
get_email_settings().require_sender()
get_email_settings().require_tracking_base_url()


@container_cache
def _pacer(rate: float) -> Pacer:
    """One pacer per rate, kept across invocations: its state is when the next send may go."""
    return Pacer(rate)


def _sender() -> Sender:
    settings = get_email_settings()
    return Sender(
        settings=settings,
        keys=link_keys(),
        store=dynamo_store(),
        mailer=ses_mailer,
        # This container's share of the stack's send rate (a configured value: part of the key).
        pacer=_pacer(settings.send_rate / settings.sender_concurrency),
    )


def _requests(records: list[dict[str, Any]]) -> list[SendRequest]:
    """The records' requests, for prefetching; unreadable ones fail on their own in the processor."""
    found = []
    for record in records:
        try:
            found.append(SendRequest.model_validate_json(record.get("body") or ""))
        except ValidationError:
            continue
    return found


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    sender = _sender()
    batch: Prefetched = prefetch(_requests(event["Records"]), sender.store)
    outcomes: list[Outcome] = []

    def send(record: SendQueueRecord) -> Outcome:
        outcome = sender.send(record.body, batch)
        outcomes.append(outcome)
        return outcome

    response = process_partial_response(
        event=event, record_handler=send, processor=processor, context=context
    )
    for outcome in Outcome:
        count = outcomes.count(outcome)
        if count:
            metrics.add_metric(name=f"Emails{outcome.value.title()}", unit=MetricUnit.Count, value=count)
    failures = response.get("batchItemFailures", [])
    if failures:
        metrics.add_metric(name="EmailSendRetries", unit=MetricUnit.Count, value=len(failures))
        logger.warning(
            "send requests left for a retry",
            extra={"errors": [_describe(info[1]) for info in processor.exceptions]},
        )
    return response


def _describe(error: BaseException | None) -> str:
    # A body that does not parse may hold personal data: name the problem, not the input.
    if isinstance(error, ValidationError):
        return f"ValidationError: {error.error_count()} invalid fields in the send request"
    return f"{type(error).__name__}: {error}"

"""ErasureWorkerFunction: each ErasureQueue message is one step of an erasure (customerdata.erasure): the
plan, one page of one store's step, or the finish. This module puts the steps in order; it is the one
place that combines the domains an erasure crosses (docs/customer-data.md, Erasure)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from closedloop.sync import contacts_of
from customerdata.erasure import Step, Subject, handle
from customerdata.erasure_steps import PROFILES, core_steps
from integrations.erasure import deliveries_mentioning, forget_deliveries
from website.erasure import forget_visitors

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def _visitors(subject: Subject, limit: int) -> list[str]:
    return [ref.value for ref in subject.identities if ref.kind == "anon"]


def _erase_visitors(subject: Subject, targets: list[str]) -> dict[str, int]:
    return {"visitors": forget_visitors(targets)}


def _deliveries(subject: Subject, limit: int) -> list[str]:
    return deliveries_mentioning(subject.needles, limit)


def _erase_deliveries(subject: Subject, targets: list[str]) -> dict[str, int]:
    return {"scrubbed": forget_deliveries(targets, subject.needles)}


WEBSITE = Step("website", _visitors, _erase_visitors, paged=False)
WEBHOOKS = Step("webhookDeliveries", _deliveries, _erase_deliveries)


def steps() -> list[Step]:
    """Every store's step, in order; the profile's last (the others' searches use its identities)."""
    core = [step for step in core_steps() if step is not PROFILES]
    return [*core, WEBSITE, WEBHOOKS, PROFILES]


def handle_record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    done = handle(message, steps(), contacts_of)
    logger.info("erasure step", extra={"erasureId": message.get("erasureId"), "done": done})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )

"""SES event consumer: the configuration set's SNS topic delivers each SES notification here.

Thin: parse the SNS record and its SES notification, hand it to mail/feedback.py. A notification
that is not an SES event is logged and dropped (retrying cannot fix it); a storage error raises, so
Lambda's asynchronous retry delivers the notification again, which is safe (everything is idempotent).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from pydantic import ValidationError

from mail.config import get_email_settings
from mail.feedback import Feedback, SesNotification, dynamo_store

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
# Notifications worth a warning in the log; they change nothing we store.
PROBLEMS = frozenset({"Reject", "Rendering Failure", "DeliveryDelay"})


@metrics.log_metrics
@logger.inject_lambda_context
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    feedback = Feedback(settings=get_email_settings(), store=dynamo_store())
    kinds = []
    for record in event.records:
        sns = record.sns
        try:
            notification = SesNotification.model_validate(json.loads(sns.message))
        except (ValueError, ValidationError) as exc:
            # The first line names the problem without echoing the notification (it holds addresses).
            logger.error(
                "SNS message is not an SES notification; dropped",
                extra={"snsMessageId": sns.message_id, "error": type(exc).__name__},
            )
            metrics.add_metric(name="SesNotificationsUnreadable", unit=MetricUnit.Count, value=1)
            continue
        handled = feedback.handle(notification, sns.message_id)
        kinds.append(handled.kind)
        metrics.add_metric(name=f"Ses{handled.kind.replace(' ', '')}", unit=MetricUnit.Count, value=1)
        if handled.suppressed:
            suppressed = len(handled.suppressed)
            metrics.add_metric(name="AddressesSuppressed", unit=MetricUnit.Count, value=suppressed)
        if handled.kind in PROBLEMS:
            logger.warning(
                "SES reported a problem", extra={"kind": handled.kind, "emailId": notification.message_id}
            )
    return {"handled": kinds}

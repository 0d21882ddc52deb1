"""WebhookQueue consumer: catalog events from the bus rule are fanned out to their subscriptions, and
each delivery message is attempted (integrations.webhooks). Messages left for a retry are reported as
batch item failures; their visibility was set to their backoff, so they come back when due."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from integrations import webhooks

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bus_events: list[webhooks.BusEvent] = []
    fan_out_ids: list[str] = []
    deliveries: list[webhooks.QueueMessage] = []
    for record in event.get("Records", []):
        try:
            body = json.loads(record.get("body") or "null")
        except ValueError:
            logger.warning(
                "a webhook queue message is not JSON; dropped", extra={"messageId": record.get("messageId")}
            )
            continue
        if isinstance(body, dict) and "detail-type" in body:
            found = webhooks.bus_event(body)
            if found is not None:
                bus_events.append(found)
                fan_out_ids.append(str(record["messageId"]))
        elif isinstance(body, dict) and body.get("kind") == "delivery":
            deliveries.append(
                webhooks.QueueMessage(str(record["messageId"]), body, str(record["receiptHandle"]))
            )
    failed: list[str] = []
    try:
        queued = webhooks.fan_out(bus_events)
        metrics.add_metric(name="WebhookDeliveriesQueued", unit=MetricUnit.Count, value=queued)
    except Exception:
        logger.exception("webhook fan-out failed; its messages are retried")
        failed.extend(fan_out_ids)
    retried = webhooks.attempt_all(deliveries)
    metrics.add_metric(name="WebhookAttemptsRetried", unit=MetricUnit.Count, value=len(retried))
    failed.extend(retried)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

"""MainTable stream consumer: business changes into catalog events on the bus (integrations.changes).

A batch's records become events, each published once (by its stable id); records whose events the bus
refused are reported as batch item failures, so the stream retries from there, and what already went out
is skipped on the retry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from integrations.changes import publish_changes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = publish_changes(event.get("Records", []))
    metrics.add_metric(name="CatalogEventsPublished", unit=MetricUnit.Count, value=len(outcome.published))
    if outcome.failed_records:
        logger.warning("catalog events refused by the bus", extra={"sequenceNumbers": outcome.failed_records})
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in outcome.failed_records]}

"""LakeFeedFunction: EventsTable stream records to the lake (lake.feed.deliver), reporting the records whose
rows did not reach Firehose as partial batch failures. The main table's change rows take the same
function through MainChangesFunction (handlers/main_changes.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lake import feed

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = feed.deliver(event.get("Records", []))
    metrics.add_metric(name="LakeEventRows", unit=MetricUnit.Count, value=result.events)
    metrics.add_metric(name="LakeChangeRows", unit=MetricUnit.Count, value=result.changes)
    if result.failed:
        logger.warning("lake rows not delivered", records=len(result.failed))
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in result.failed]}

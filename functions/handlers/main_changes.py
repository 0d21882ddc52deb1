"""MainChangesFunction: the main table's changes, for every domain that follows them.

AWS advises at most two readers per DynamoDB stream shard; AudienceFunction is one, this function the
other. Each domain's part is idempotent per record (markers, stable ids), so the batch item failures are
the union of the parts' failures: the stream retries from the lowest, and a part that already handled a
retried record changes nothing the second time.
- the closed loop (closedloop.changes.apply): CRM outcomes to the person, contact sync, account engagement
- the event catalog (integrations.changes.publish_changes): versioned business events on the bus
- the lake (lake.feed.deliver): change rows to Firehose
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from closedloop import changes as closed_loop
from integrations.changes import publish_changes
from lake import feed

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    failed = {"closed loop": set(closed_loop.apply(records))}
    published = publish_changes(records)
    failed["catalog"] = set(published.failed_records)
    delivered = feed.deliver(records)
    failed["lake"] = set(delivered.failed)
    metrics.add_metric(name="CatalogEventsPublished", unit=MetricUnit.Count, value=len(published.published))
    metrics.add_metric(name="LakeChangeRows", unit=MetricUnit.Count, value=delivered.changes)
    for part, sequences in failed.items():
        if sequences:
            logger.warning("main-table changes to retry", part=part, sequenceNumbers=sorted(sequences))
    retry = set().union(*failed.values())
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in sorted(retry, key=_order)]}


def _order(sequence: str) -> tuple[int, str]:
    """Stream sequence numbers are decimal strings of different lengths: order them as numbers."""
    return (len(sequence), sequence)

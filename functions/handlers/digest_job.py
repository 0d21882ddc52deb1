"""The owners' daily digest (EventBridge schedule): one email per owner with tasks due, deals closing this
week and contracts up for renewal, sent at most once per owner and day (crm.commerce.digest_run)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from crm.commerce.digest_run import run_digests
from crm.commerce.settings import get_commerce_settings
from crm.commerce.store.digests import DynamoDigestOutbox
from crm.digest_records import RecordDigestSources
from leadstream import clock

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
# Fail at cold start, not on the first owner, if the stack did not configure the digest.
get_commerce_settings().require_user_pool()
get_commerce_settings().require_digest_sender()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = get_commerce_settings()
    run = run_digests(
        today=clock.today(),
        sources=RecordDigestSources(user_pool_id=settings.require_user_pool()),
        outbox=DynamoDigestOutbox(sender=settings.require_digest_sender()),
    )
    summary = run.summary()
    metrics.add_metric(name="DigestsSent", unit=MetricUnit.Count, value=summary["sent"])
    logger.info("digest run", extra=summary)
    return summary

"""The daily renewal job (EventBridge schedule): create each due contract's renewal deal, expire ended
contracts (crm.commerce.renewals). Safe to run again at any time: reruns create nothing twice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from crm.commerce.renewals import run_renewals
from crm.commerce.settings import get_commerce_settings
from crm.commerce.store.timers import DynamoTimerStore
from crm.renewal_records import RecordContracts, RecordDeals
from leadstream import clock

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    now = clock.now()
    timers = DynamoTimerStore(lookback_months=get_commerce_settings().renewal_lookback_months)
    run = run_renewals(
        today=now.date(), now=now, timers=timers, contracts=RecordContracts(), deals=RecordDeals()
    )
    summary = run.summary()
    metrics.add_metric(name="RenewalDealsCreated", unit=MetricUnit.Count, value=summary["renewalsCreated"])
    metrics.add_metric(name="ContractsExpired", unit=MetricUnit.Count, value=summary["expired"])
    logger.info("renewal run", extra=summary)
    return summary

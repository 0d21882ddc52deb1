"""ClosedLoopFunction: main-table changes of deals, orders, contacts, accounts and profiles, fed to the
closed loop (closedloop.changes.apply: stage and revenue from CRM outcomes, contact sync, account
engagement). Thin: the loop reports the record to retry from, the stream retries from there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from closedloop import changes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = changes.apply(event.get("Records", []))
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}

"""Run a function at most once per key, on the Powertools idempotency utility (IdempotencyTable).

Powertools configures a persistence layer the first time it is used (its key paths, key prefix and
payload validation stick to the object). A layer shared by two uses would give the second the first's
configuration, which in the local stack (every function in one process) made each idempotent CRM create
fail after a campaign fan-out, and the other way round. So nothing configurable is kept between calls:
each call builds its own config and its own persistence layer over the container's DynamoDB client (an
object wrapping that client, no connection of its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from leadstream.aws import dynamodb
from leadstream.settings import load

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class IdempotencySettings(BaseModel, frozen=True):
    table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3)


def run_once(
    work: Callable[[dict[str, Any]], dict[str, Any]],
    data: dict[str, Any],
    *,
    use: str,
    key_paths: str,
    expires_after_seconds: int,
    payload_path: str | None = None,
    context: LambdaContext | None = None,
) -> dict[str, Any]:
    """`work(data)` once per the values at `key_paths` (a JMESPath over `data`) within `use` (the key
    prefix: two uses never share keys); a repeat returns the first result. With `payload_path`, a repeat
    whose payload differs raises Powertools' IdempotencyValidationError; a repeat while the first still
    runs raises IdempotencyAlreadyInProgressError. With `context`, an interrupted first run expires with
    its invocation instead of blocking the key until `expires_after_seconds`."""
    # Imported here: the utility's package imports boto3, which a cold start would otherwise pay for
    # before the first request that needs it (most requests of the functions using this need none).
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath=key_paths,
        payload_validation_jmespath=payload_path or "",
        expires_after_seconds=expires_after_seconds,
        raise_on_no_idempotency_key=True,
    )
    if context is not None:
        config.register_lambda_context(context)
    table = load(IdempotencySettings).table
    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb())

    @idempotent_function(
        data_keyword_argument="data", persistence_store=persistence, config=config, key_prefix=use
    )
    def once(data: dict[str, Any]) -> dict[str, Any]:
        return work(data)

    result: dict[str, Any] = once(data=data)
    return result

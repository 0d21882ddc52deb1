"""Run a function at most once per key, on the Powertools idempotency utility (IdempotencyTable).

Powertools configures a persistence layer the first time it is used (its key paths, key prefix and
payload validation stick to the object). A layer shared by two uses would give the second the first's
configuration, which in the local stack (every function in one process) made each idempotent CRM create
fail after a campaign fan-out, and the other way round. So nothing configurable is kept between calls:
each call builds its own config and its own persistence layer over the container's DynamoDB client (an
object wrapping that client, no connection of its own).

`Idempotency-Key` on a create (`create_with_key`): a retried create returns the first response and never
makes a second resource. The records live in a table of their own (IdempotencyTable in template.yaml,
key `id`, TTL on `expiration`): transient (24 hours), each key in its own partition, and the main table's
backups and exports stay business data only. Two layers make a retry safe:
1. Powertools stores the first response under hash(user, resource, key) and replays it; a retry while
   the first request still runs is a 409; the same key with a different body is a 422.
2. The new resource's id is derived from the same (user, resource, key), and it is stored only if that
   id is free. If a function dies after storing it but before Powertools saved the response, the retry
   finds it instead of creating a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from leadstream.aws import dynamodb
from leadstream.errors import Conflict, InvalidInput
from leadstream.models import Model
from leadstream.settings import load

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


KEY_LIFETIME_SECONDS = 24 * 60 * 60
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as the IETF Idempotency-Key draft's examples
_NAMESPACE = uuid.UUID("6f0c1c2e-8d5b-4b7e-9a8e-1f3c5d7b9a20")


class IdempotencySettings(Model, frozen=True):
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


def record_id_for(scope: str, key: str) -> str:
    """The id a create with this key makes: the same for every retry of it."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope}\n{key}"))


def create_with_key(
    *,
    scope: str,
    key: str,
    payload: Any,
    create: Callable[[str], dict[str, Any]],
    context: LambdaContext | None,
) -> dict[str, Any]:
    """`create(record_id)` once per (scope, key); a repeat returns what the first call returned.

    `scope` names the caller and the resource ("<user id>:deal"), so two users' keys never collide.
    """
    # Imported here, like the utility in run_once: its package imports boto3.
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    def create_once(request: dict[str, Any]) -> dict[str, Any]:
        return create(record_id_for(request["scope"], request["key"]))

    try:
        return run_once(
            create_once,
            {"scope": scope, "key": key, "payload": payload},
            use="crm-create",  # the prefix creates had when only the CRM had them: keys stay valid
            key_paths="[scope, key]",
            payload_path="payload",
            expires_after_seconds=KEY_LIFETIME_SECONDS,
            context=context,  # an interrupted first try expires with its invocation
        )
    except IdempotencyValidationError:
        raise InvalidInput(
            "This Idempotency-Key was already used with a different request body; "
            "use a new key for a new request."
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry in a moment."
        ) from None


# --- erasure (docs/customer-data.md, Erasure) ------------------------------------------------------------
def records_mentioning(needles: list[str], limit: int) -> list[str]:
    """Ids of up to `limit` idempotency records whose stored response mentions one of `needles` (compared
    in lower case): a create's response holds what it created, an address included. The table is
    transient (records expire after 24 hours), so a Scan of it is small; an erasure's worker runs it,
    never a request."""
    lowered = [needle.lower() for needle in needles if needle]
    if not lowered:
        return []
    client = dynamodb()
    table = load(IdempotencySettings).table
    found: list[str] = []
    request: dict[str, Any] = {"TableName": table}
    while len(found) < limit:
        response = client.scan(**request)
        for item in response.get("Items", []):
            text = " ".join(str(value.get("S", "")) for value in item.values()).lower()
            if any(needle in text for needle in lowered):
                found.append(str(item["id"]["S"]))
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return found[:limit]


def forget_records(record_ids: list[str]) -> int:
    """Delete these idempotency records: a retry of their request within the day runs it again (and
    finds the record it created, whose id derives from the key: nothing is made twice)."""
    client = dynamodb()
    table = load(IdempotencySettings).table
    for record_id in record_ids:
        client.delete_item(TableName=table, Key={"id": {"S": record_id}})
    return len(record_ids)

"""`Idempotency-Key` on POST: a retried create returns the first response and never makes a second record.

Built on the Powertools idempotency utility with its DynamoDB persistence layer, in a table of its own
(IdempotencyTable in template.yaml, key `id`, TTL on `expiration`): the records are transient (24 hours),
each key hashes to its own partition (no hot partition, unlike a static partition in the main table), and
the main table's backups and exports stay business data only.

Two layers make a retry safe:
1. Powertools stores the first response under hash(user, resource, key) and replays it; a retry while
   the first request still runs is a 409; the same key with a different body is a 422.
2. The new record's id is derived from the same (user, resource, key), and the record is put only if
   that id is free. If a function dies after storing the record but before Powertools saved the
   response, the retry finds the record instead of creating a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from leadstream import idempotency
from leadstream.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

KEY_LIFETIME_SECONDS = 24 * 60 * 60
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as the IETF Idempotency-Key draft's examples
_NAMESPACE = uuid.UUID("6f0c1c2e-8d5b-4b7e-9a8e-1f3c5d7b9a20")


def record_id_for(scope: str, key: str) -> str:
    """The id a create with this key makes: the same for every retry of it."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope}\n{key}"))


def run_once(
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

    # Imported here, like the utility itself (leadstream.idempotency): its package imports boto3.
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    def create_once(request: dict[str, Any]) -> dict[str, Any]:
        return create(record_id_for(request["scope"], request["key"]))

    try:
        return idempotency.run_once(
            create_once,
            {"scope": scope, "key": key, "payload": payload},
            use="crm-create",
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

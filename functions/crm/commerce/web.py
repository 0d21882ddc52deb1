"""What the commerce routes share beyond the CRM framework: creates that honour Idempotency-Key when the
record is built by an action (a quote priced from the price book, an order repeated, a contract from an
order)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from crm.api.framework import CrmApi
from crm.api.idempotency import run_once


def create_once(
    api: CrmApi,
    *,
    resource: str,
    body: BaseModel,
    idempotency_key: str | None,
    create: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    """`create(new_id)` and its stored document; with an Idempotency-Key, once per (caller, resource, key),
    a retry getting the first document back (crm.api.idempotency)."""
    if idempotency_key is None:
        return create(str(uuid.uuid4()))
    scope = f"{api.principal().user_id}:{resource}"
    payload = body.model_dump(mode="json", by_alias=True)
    return run_once(scope=scope, key=idempotency_key, payload=payload, create=create, context=api.context())

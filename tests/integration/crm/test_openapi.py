"""The OpenAPI document: generated from the code of every API function, committed next to the handlers
(which serve it), identical to what the code generates."""

from __future__ import annotations

import json
from typing import Any

from crm_support import Crm

from leadstream_local.template import REPO_ROOT

COMMITTED = REPO_ROOT / "functions" / "handlers" / "openapi.json"


def test_the_committed_document_is_the_generated_one(aws: Any) -> None:
    from handlers.openapi import generate

    assert COMMITTED.read_text() == generate(), "functions/handlers/openapi.json is stale: run `make openapi`"


def test_the_stack_serves_it_to_any_signed_in_user(marketing: Crm) -> None:
    served = marketing.ok(marketing.get("/crm/openapi.json"))

    assert served == json.loads(COMMITTED.read_text())
    assert served["openapi"].startswith("3.1")
    assert served["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }

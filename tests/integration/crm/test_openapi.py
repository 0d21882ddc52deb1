"""The OpenAPI document: generated from the code, served by the stack, committed in docs/openapi.json."""

from __future__ import annotations

import json
from typing import Any

from crm_support import Crm

from leadstream_local.template import REPO_ROOT

COMMITTED = REPO_ROOT / "docs" / "openapi.json"


def test_the_committed_document_is_the_generated_one(aws: Any) -> None:
    from crm.openapi import text
    from handlers.crm_api import app

    assert COMMITTED.read_text() == text(app), "docs/openapi.json is stale: run `make openapi`"


def test_the_stack_serves_it_to_any_signed_in_user(marketing: Crm) -> None:
    served = marketing.ok(marketing.get("/crm/openapi.json"))

    assert served == json.loads(COMMITTED.read_text())
    assert served["openapi"].startswith("3.1")
    assert served["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }

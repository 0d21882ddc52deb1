"""The OpenAPI document of the whole authenticated API, as the API functions serve it.

The committed copy, `handlers/openapi.json`, ships with the function code, so serving it reads one file
and imports nothing of the other functions; `python -m handlers.openapi` regenerates it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leadstream.api import Api
from leadstream.auth import Role
from leadstream.caches import container_cache

COMMITTED = Path(__file__).with_name("openapi.json")
EVERYONE = frozenset(Role)


def serve(api: Api, rule: str) -> None:
    """`GET rule`: the document, to any signed-in user."""

    @api.route("GET", rule, policy=EVERYONE, summary="The OpenAPI 3.1 document of this API", tag="meta")
    def openapi_document() -> dict[str, Any]:
        return committed()


@container_cache  # one file, the same for every function: nothing configurable is kept
def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(COMMITTED.read_text())
    return document

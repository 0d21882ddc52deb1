"""The OpenAPI document of the whole authenticated API: served by the API functions, generated here.

The committed copy, `handlers/openapi.json`, ships with the function code, so serving it reads one file
and imports nothing of the other functions. `make openapi` (`python -m handlers.openapi`) regenerates it
from the route declarations of all three API functions; a test fails when the committed copy is stale.
"""

from __future__ import annotations

import json
import os
import sys
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


def generate() -> str:
    """The document, from the routes of every API function (imports all three)."""
    # Their modules read their settings at import; generating the document connects to nothing.
    for name, value in {"MAIN_TABLE": "MainTable", "EVENTS_TABLE": "EventsTable"}.items():
        os.environ.setdefault(name, value)
    from handlers import crm_api, email_api, marketing_api
    from leadstream.openapi import text

    return text([crm_api.app, marketing_api.app, email_api.app])


def main(argv: list[str]) -> int:
    """`python -m handlers.openapi [PATH]`: write the document (to stdout without PATH)."""
    generated = generate()
    if len(argv) > 1:
        Path(argv[1]).write_text(generated)
    else:
        sys.stdout.write(generated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

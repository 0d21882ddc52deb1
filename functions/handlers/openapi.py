"""`make openapi` (`python -m handlers.openapi`): the OpenAPI document of the whole authenticated API,
generated from the route declarations of every API function into `handlers/openapi.json`, which
they serve (handlers.openapi_document); a test fails when the committed copy is stale.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from leadstream.auth import Role

COMMITTED = Path(__file__).with_name("openapi.json")
EVERYONE = frozenset(Role)


def generate() -> str:
    """The document, from the routes of every API function (imports them all)."""
    # Their modules read their settings at import; generating the document connects to nothing.
    for name, value in {"MAIN_TABLE": "MainTable", "EVENTS_TABLE": "EventsTable"}.items():
        os.environ.setdefault(name, value)
    from handlers import crm_api, customerdata_api, email_api, marketing_api, reports_api, website_api
    from leadstream.openapi import text

    apps = [crm_api.app, marketing_api.app, email_api.app, website_api.app, reports_api.app]
    return text([*apps, customerdata_api.app])


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

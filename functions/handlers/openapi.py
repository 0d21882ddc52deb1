"""`python -m handlers.openapi [PATH]`: write the OpenAPI document of the authenticated API (to stdout
without PATH). `make openapi` writes docs/openapi.json; a test fails when the committed copy is stale."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    # The handler module reads its settings at import; generating the document connects to nothing.
    for name, value in {"MAIN_TABLE": "MainTable", "EVENTS_TABLE": "EventsTable"}.items():
        os.environ.setdefault(name, value)
    from crm.openapi import text
    from handlers.crm_api import app

    generated = text(app)
    if len(argv) > 1:
        Path(argv[1]).write_text(generated)
    else:
        sys.stdout.write(generated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

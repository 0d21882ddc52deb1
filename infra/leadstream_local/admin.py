"""`leadstream source add` and `leadstream form add`: configure a deployed stack (or the local one).

They write to the main table named by --table with the caller's AWS credentials (the usual AWS_PROFILE /
AWS_ENDPOINT_URL environment) in the region `leadstream_local.regions` resolves, through the same store
code the functions use.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from typing import TYPE_CHECKING, Any

from leadstream_local import regions

if TYPE_CHECKING:
    from pydantic import ValidationError


def register(commands: Any) -> None:
    source = commands.add_parser("source", help="manage sources (a site or app with a write key)")
    source_commands = source.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = source_commands.add_parser(
        "add", help="create a source and print its write key", epilog=regions.HELP
    )
    add.add_argument("--table", required=True, help="the stack's main table (output MainTableName)")
    add.add_argument("--name", required=True)
    add.add_argument("--source-id", help="default: a new random id")
    add.add_argument("--write-key", help="default: a new random key")
    add.add_argument(
        "--origin",
        action="append",
        default=[],
        help="browser origin allowed to send events, e.g. https://www.example.com (repeatable; none: any)",
    )
    add.set_defaults(run=add_source)

    form = commands.add_parser("form", help="manage forms that post to /forms/{formId}")
    form_commands = form.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = form_commands.add_parser("add", help="create or replace a form", epilog=regions.HELP)
    add.add_argument("--table", required=True, help="the stack's main table (output MainTableName)")
    add.add_argument("--source", required=True, dest="source_id", help="id of the source the form belongs to")
    add.add_argument("--form-id", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--thank-you-url", help="where a browser goes after posting (303)")
    add.add_argument("--email-field", default="email")
    add.add_argument(
        "--hand-raiser", action="store_true", help="a demo or contact request: hand over to sales"
    )
    add.set_defaults(run=add_form)


def add_source(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from tracking.sources import Source
    from tracking.store.sources import put_source

    try:
        source = Source(
            source_id=args.source_id or f"src-{secrets.token_hex(6)}",
            name=args.name,
            write_key=args.write_key or secrets.token_urlsafe(24),
            allowed_origins=args.origin,
        )
    except ValidationError as exc:
        return _refuse(exc)
    _use_region()
    put_source(source, table=args.table)
    print(json.dumps(source.model_dump(by_alias=True), indent=2))
    return 0


def add_form(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from tracking.sources import Form
    from tracking.store.sources import put_form

    try:
        form = Form.model_validate(
            {
                "formId": args.form_id,
                "sourceId": args.source_id,
                "name": args.name,
                "thankYouUrl": args.thank_you_url,
                "emailField": args.email_field,
                "handRaiser": args.hand_raiser,
            }
        )
    except ValidationError as exc:
        return _refuse(exc)
    _use_region()
    put_form(form, table=args.table)
    print(json.dumps(form.model_dump(by_alias=True, mode="json"), indent=2))
    return 0


def _use_region() -> None:
    """The store code's boto3 clients read the region from AWS_DEFAULT_REGION (this process's own)."""
    os.environ["AWS_DEFAULT_REGION"] = regions.resolve()


def _refuse(exc: ValidationError) -> int:
    """Name every field to fix, and exit 2 as argparse does for a bad argument."""
    problems = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
    print(f"leadstream: {problems}", file=sys.stderr)
    return 2

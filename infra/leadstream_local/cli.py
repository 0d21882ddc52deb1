"""The `leadstream` command. `leadstream local` runs the whole stack on this machine, no Docker needed.

Each command imports what it needs when it runs (boto3, pydantic, the stack, the functions' packages):
at the top of this module and of the modules it imports for the parser, only what building the parser
takes, so that a command starts at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from leadstream_local import admin, importing, regions
from leadstream_local.auth import ROLES
from leadstream_local.embedded_aws import FAKE_CREDENTIALS
from leadstream_local.seed import DEFAULT_WRITE_KEY, DEMO_REQUEST_FORM, DEMO_SOURCE_ID, NEWSLETTER_FORM

if TYPE_CHECKING:
    from threading import Event
    from types import FrameType

    from leadstream_local.stack import LocalStack

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadstream", description="Leadstream developer commands.", epilog=regions.HELP
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = commands.add_parser(
        "local",
        epilog=regions.HELP,
        help="run the stack locally: every route of template.yaml over an embedded moto",
        description="Serve every HttpApi route of template.yaml on 127.0.0.1, with the template's tables "
        "and queues in an embedded moto, stream-triggered and scheduled functions running.",
    )
    local.add_argument("--port", type=int, default=8787, help="API port (0: pick a free one; default 8787)")
    local.add_argument(
        "--aws-port",
        type=int,
        default=5787,
        help="embedded AWS (moto) port (0: pick a free one; default 5787)",
    )
    local.add_argument(
        "--write-key",
        type=_write_key,
        default=DEFAULT_WRITE_KEY,
        help=f"write key of the demo source (default {DEFAULT_WRITE_KEY})",
    )
    local.add_argument(
        "--no-demo", action="store_true", help="do not send the demo visitors' events at start"
    )
    local.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    local.set_defaults(run=run_local)

    token = commands.add_parser(
        "token",
        epilog=regions.HELP,
        help="print a bearer token that the running local stack accepts",
        description="Sign a user into the local stack's embedded Cognito user pool (creating the user if "
        "needed, with exactly the given role) and print the access token.",
    )
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--user", default="alice", help="user name or email (default alice)")
    token.add_argument(
        "--aws-url",
        default="http://127.0.0.1:5787",
        help="the local stack's AWS endpoint (default port 5787)",
    )
    token.set_defaults(run=print_token)

    outbox = commands.add_parser(
        "outbox",
        help="show the emails the running local stack sent (its embedded SES keeps them)",
        description="List every email the local stack's functions sent through the embedded SES: the "
        "owner notifications of handed-over leads, marketing email. Nothing leaves the machine.",
    )
    outbox.add_argument("--to", help="only emails to this address")
    outbox.add_argument("--json", action="store_true", help="print JSON instead of text")
    outbox.add_argument(
        "--html",
        metavar="DIR",
        help="also write each email's HTML part to DIR (open the files in a browser; links work)",
    )
    outbox.add_argument(
        "--aws-url",
        default="http://127.0.0.1:5787",
        help="the local stack's AWS endpoint (default port 5787)",
    )
    outbox.set_defaults(run=print_outbox)

    clock = commands.add_parser(
        "clock",
        epilog=regions.HELP,
        help="show or move the running local stack's clock (journey waits, scheduled campaigns)",
        description="The local stack's clock is real time plus an offset. `advance` moves it forward; "
        "every journey wait, segment expiry and scheduled campaign that came due fires at once.",
    )
    clock.add_argument("action", nargs="?", choices=["show", "advance"], default="show")
    clock.add_argument("duration", nargs="?", help="how far to move it: 90s, 15m, 2h, 2d, 1w")
    clock.add_argument(
        "--aws-url",
        default="http://127.0.0.1:5787",
        help="the local stack's AWS endpoint (default port 5787)",
    )
    clock.set_defaults(run=move_clock)

    smoke = commands.add_parser(
        "smoke",
        help="check a deployed stack (or the local one) end to end over its API",
        description="Send a tracking event with the write key, wait until its person's profile is scored, "
        "read the CRM and the OpenAPI document with the token. Prints each check as passed or failed; exits "
        "1 if any failed. Each run adds one person (a leadstreamSmoke trait, an address of SES's mailbox "
        "simulator).",
    )
    smoke.add_argument(
        "--api-url", required=True, help="the stack's ApiUrl output (the local stack: http://127.0.0.1:8787)"
    )
    smoke.add_argument("--write-key", required=True, help="write key of a source of the stack")
    smoke.add_argument(
        "--token", required=True, help="access token of a user in the marketing or admin group"
    )
    smoke.add_argument(
        "--timeout",
        type=_wait_seconds,
        default=60.0,
        help="seconds to wait for the profile to be scored, 0 to 3600 (default 60)",
    )
    smoke.add_argument(
        "--email", help="the smoke person's address (default: a new SES mailbox simulator address)"
    )
    smoke.set_defaults(run=run_smoke)
    admin.register(commands)
    importing.register(commands)
    return parser


def print_outbox(args: argparse.Namespace) -> int:
    import json
    import urllib.error

    from leadstream_local import outbox

    try:
        emails = outbox.read_outbox(args.aws_url, to=args.to)
    except (urllib.error.URLError, OSError) as exc:
        print(
            f"leadstream outbox: cannot reach {args.aws_url} ({exc}): is `leadstream local` running?",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps([email.to_json() for email in emails], indent=2))
    else:
        outbox.print_outbox(emails, sys.stdout)
    if args.html:
        from pathlib import Path

        for path in outbox.save_html(emails, Path(args.html)):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _wait_seconds(text: str) -> float:
    """A finite number of seconds up to an hour (`nan` or `inf` would make the wait endless)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= seconds <= 3600:  # also false for nan
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, not {text}")
    return seconds


def run_smoke(args: argparse.Namespace) -> int:
    from leadstream_local import smoke

    try:
        api = smoke.Api(args.api_url)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    return smoke.run(
        smoke.Smoke(api, args.write_key, args.token, timeout=args.timeout, email=args.email or "")
    )


def _local_client(service: str, aws_url: str) -> Any:
    """A boto3 client of the running local stack's embedded AWS (from another process)."""
    import boto3

    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=aws_url,
        region_name=regions.resolve(),
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def move_clock(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from botocore.exceptions import BotoCoreError

    from leadstream_local.timers import parse_duration, read_offset, write_offset

    ssm = _local_client("ssm", args.aws_url)
    try:
        offset = read_offset(ssm)
        if args.action == "advance":
            if not args.duration:
                print("leadstream clock advance: say how far, e.g. 2d", file=sys.stderr)
                return 2
            offset += parse_duration(args.duration)
            write_offset(ssm, offset)
    except ValueError as exc:
        print(f"leadstream clock: {exc}", file=sys.stderr)
        return 2
    except BotoCoreError as exc:
        print(
            f"leadstream clock: cannot reach {args.aws_url} ({exc}): is `leadstream local` running?",
            file=sys.stderr,
        )
        return 1
    local = datetime.now(UTC) + offset
    print(f"local time {local.isoformat(timespec='seconds')} (real time + {offset})")
    return 0


def print_token(args: argparse.Namespace) -> int:
    from leadstream_local.auth import issue_token
    from leadstream_local.template import StackTemplate

    client = _local_client("cognito-idp", args.aws_url)
    try:
        print(issue_token(StackTemplate.load(), client, role=args.role, user=args.user))
    except LookupError as exc:
        print(f"leadstream token: {exc}", file=sys.stderr)
        return 1
    return 0


def _write_key(value: str) -> str:
    """Refuse a write key the Source model would refuse, before anything starts."""
    from pydantic import ValidationError

    from tracking.sources import Source

    try:
        Source(source_id=DEMO_SOURCE_ID, name="check", write_key=value)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError("; ".join(error["msg"] for error in exc.errors())) from None
    return value


def run_local(args: argparse.Namespace) -> int:
    import logging
    import os
    import signal
    import threading

    from leadstream_local.stack import LocalStack

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    if not args.verbose:
        # Embedded-metric JSON lines are for CloudWatch; on a terminal they bury everything else.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    stack = LocalStack(
        port=args.port,
        aws_port=args.aws_port,
        write_key=args.write_key,
        seed_demo=not args.no_demo,
        region=regions.resolve(),
    )
    try:
        stack.start()
    except OSError as exc:
        print(f"leadstream local: {exc}. Free the port or pass --port/--aws-port 0.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130  # interrupted while starting; start() has already cleaned up
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, _on_signal(stopping))
    try:
        print_banner(stack)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        print("\nstopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)
    return 0


def _on_signal(stopping: Event) -> Callable[[int, FrameType | None], None]:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    return handle


def cli_command() -> str:
    """This command as it runs when pasted in the project folder, with no virtualenv activated: the
    script beside this Python (a virtualenv's bin), relative to the project when it lies inside."""
    import os
    from pathlib import Path

    from leadstream_local.template import REPO_ROOT

    script = Path(sys.executable).parent / "leadstream"
    if not script.is_file():
        return f"{sys.executable} -m leadstream_local.cli"
    if script.is_relative_to(REPO_ROOT):
        return os.path.relpath(script, REPO_ROOT)
    return str(script)


def print_banner(stack: LocalStack, out: TextIO = sys.stdout) -> None:
    """What runs where, and what to try next."""
    url, aws, key = stack.url, stack.aws_url, stack.write_key
    routes = ", ".join(route.route_key for route in stack.template.http_routes())
    tables = stack.table_names()
    first_table = tables[0] if tables else "<table>"
    streams = "; ".join(
        f"{source.function} <- {source.stream_arn.split('/')[1]}" for source in stack.stream_sources
    )
    lines = [
        "",
        "Leadstream local stack is running.",
        "",
        f"  API         {url}",
        f"  routes      {routes}",
        f"  write key   {key}   (source {DEMO_SOURCE_ID}; forms {DEMO_REQUEST_FORM}, {NEWSLETTER_FORM})",
        f"  AWS (moto)  {aws}   region {stack.region}, any credentials",
        f"  tables      {', '.join(tables)}",
        f"  queues      {', '.join(stack.queue_names()) or '-'}",
        f"  streams     {streams or '-'}",
    ]
    if stack.demo_results:
        sent = ", ".join(f"{item.what}: {item.status}" for item in stack.demo_results)
        lines.append(f"  demo        {sent}")
    credentials = " ".join(f"{name}={value}" for name, value in FAKE_CREDENTIALS.items())
    leadstream = cli_command()
    lines += [
        "",
        "Send an event:",
        f"  curl -u '{key}:' -H 'content-type: application/json' \\",
        '    -d \'{"anonymousId":"a-1","event":"Viewed Pricing","properties":{"plan":"pro"}}\' \\',
        f"    {url}/v1/track",
        "",
        "Point an SDK at it:",
        f"  Segment analytics-python:  analytics.write_key = '{key}'; analytics.host = '{url}'",
        f"  RudderStack Python SDK:    rudderstack.analytics.write_key = '{key}'; "
        f"rudderstack.analytics.dataPlaneUrl = '{url}'",
        "",
        "Look inside (AWS CLI or boto3 with endpoint_url):",
        f"  {credentials} aws --region {stack.region} --endpoint-url {aws} \\",
        f"    dynamodb scan --table-name {first_table}",
        f"  boto3.client('dynamodb', endpoint_url='{aws}', region_name='{stack.region}', "
        "aws_access_key_id='local', aws_secret_access_key='local')",
        "",
        "Call the CRM and marketing APIs with a token (roles sales, marketing, admin):",
        f'  curl -H "Authorization: Bearer $({leadstream} token --role sales --aws-url {aws})" \\',
        f"    {stack.url}/crm/leads",
        "",
        "Read the emails the stack sent (a handed-over lead's owner is notified):",
        f"  {leadstream} outbox --aws-url {aws}",
        "",
        "Email marketing (role marketing): segments, campaigns and journeys under /marketing/...",
        "  (a tour in docs/marketing-tour.md); journey waits and",
        "  scheduled campaigns run on the local clock, which you can move forward:",
        f"  {leadstream} clock advance 2d --aws-url {aws}",
        "",
        "Ctrl-C stops the stack (its data lives in memory only).",
        "",
    ]
    print("\n".join(lines), file=out, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command: Command = args.run
    return command(args)


if __name__ == "__main__":
    sys.exit(main())

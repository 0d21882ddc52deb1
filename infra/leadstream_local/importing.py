"""`leadstream import contacts|events FILE`: an import through the stack's API, as any client makes one.

Creates the job (`POST /marketing/imports`), PUTs the file to the presigned URL (streamed, not read into
memory), starts it, then follows `GET /marketing/imports/{id}` with a progress bar (rows, rows/s, time
left) until it is done, and prints a summary; `--errors PATH` saves the error file. Standard library only,
so the command starts at once (docs/customer-data.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from leadstream_local import regions

POLL_SECONDS = 0.5
REQUEST_TIMEOUT = 30.0
BAR_WIDTH = 30
COUNTS = ("created", "updated", "merged", "unchanged", "rejected")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "import",
        help="import contacts, CRM accounts or offline events from a CSV or JSON Lines file, with a progress "
        "bar",
        description="Upload FILE to the stack and import it: every row goes through identity resolution, "
        "and accounts are matched by id, domain or name (the same file twice creates nothing new). "
        "Columns are matched to fields by their headers "
        "(Email, E-mail, First Name, Company ...); other columns become custom fields.",
        epilog=regions.HELP,
    )
    parser.add_argument("kind", choices=["contacts", "events", "accounts"])
    parser.add_argument("file", help="a CSV file (UTF-8 or Latin-1), or JSON Lines (.jsonl) for events")
    parser.add_argument("--api-url", default="http://127.0.0.1:8787", help="the stack's ApiUrl output")
    parser.add_argument(
        "--token",
        default=os.environ.get("LEADSTREAM_TOKEN"),
        help="access token of a marketing or admin user; accounts need an admin (default: "
        "$LEADSTREAM_TOKEN, or on the local stack such a user's token issued by its user pool)",
    )
    parser.add_argument("--aws-url", default="http://127.0.0.1:5787", help="the local stack's AWS endpoint")
    parser.add_argument("--dry-run", action="store_true", help="validate and count; write nothing")
    parser.add_argument(
        "--mapping", metavar="FILE", help='JSON object of column header to field, e.g. {"Courriel": "email"}'
    )
    parser.add_argument("--encoding", choices=["auto", "utf-8", "windows-1252", "latin-1"], default="auto")
    parser.add_argument("--errors", metavar="PATH", help="save the rejected rows' error file here")
    parser.set_defaults(run=run_import)


class ImportFailed(Exception):
    """Something the user can fix (the message says what), or the API refused."""


@dataclass
class Api:
    base_url: str
    token: str
    timeout: float = REQUEST_TIMEOUT

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url.rstrip("/") + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ImportFailed(_problem(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ImportFailed(f"cannot reach {self.base_url} ({exc}): is the stack running?") from None


def _problem(exc: urllib.error.HTTPError) -> str:
    try:
        problem = json.loads(exc.read())
    except (ValueError, RecursionError):
        return f"the API answered {exc.code}"
    detail = (
        problem.get("detail") or problem.get("message") or problem.get("title")
        if isinstance(problem, dict)
        else None
    )
    errors = problem.get("errors") if isinstance(problem, dict) else None
    text = f"the API answered {exc.code}: {detail}"
    if isinstance(errors, list) and errors:
        text += "; " + "; ".join(
            f"{e.get('field', '')}: {e.get('message', '')}" for e in errors if isinstance(e, dict)
        )
    return text


def put_file(url: str, path: Path, content_type: str) -> None:
    """The file to the presigned URL, streamed from disk."""
    size = path.stat().st_size
    with path.open("rb") as body:
        request = urllib.request.Request(
            url, data=body, method="PUT", headers={"Content-Type": content_type, "Content-Length": str(size)}
        )
        try:
            with urllib.request.urlopen(request, timeout=max(REQUEST_TIMEOUT, size / 1_000_000)):
                pass
        except urllib.error.HTTPError as exc:
            raise ImportFailed(f"the upload was refused ({exc.code}): {exc.read()[:300]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ImportFailed(f"the upload failed ({exc})") from None


# --- the progress bar ------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Rows done of the total, their rate since the total was known (the split's end: the first chunk
    starts then), and the time left at that rate."""

    started: float
    since: tuple[float, int] | None = None  # (time, rows) when the total was first seen

    def line(self, rows: int, total: int | None, now: float) -> str:
        if not total:
            return f"[{'.' * BAR_WIDTH}] reading the file ({_duration(now - self.started)})"
        if self.since is None:
            self.since = (now, rows)
        at, base = self.since
        rate = (rows - base) / (now - at) if now > at else 0.0
        filled = int(BAR_WIDTH * min(rows / total, 1.0))
        bar = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"
        left = "0:00" if rows >= total else (_duration((total - rows) / rate) if rate > 0 else "--:--")
        return f"{bar} {rows:,}/{total:,} rows  {rate:,.0f} rows/s  {left} left"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def summary(job: dict[str, Any], elapsed: float) -> list[str]:
    counts = job.get("counts", {})
    rows = counts.get("rows", 0)
    verb = "checked (dry run: nothing written)" if job.get("dryRun") else "imported"
    lines = [f"{job.get('fileName')}: {rows:,} rows {verb} in {_duration(elapsed)}"]
    lines += [f"  {name:<10} {counts.get(name, 0):>10,}" for name in COUNTS]
    return lines


def follow(
    api: Api,
    import_id: str,
    out: TextIO,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 24 * 3600,
) -> dict[str, Any]:
    """Poll the job until it is done or failed, drawing the bar on `out` (one line per poll unless a
    terminal, where it is redrawn in place)."""
    started = clock()
    progress = Progress(started)
    redraw = out.isatty()
    last = ""
    while True:
        job: dict[str, Any] = api.call("GET", f"/marketing/imports/{import_id}")
        line = progress.line(job.get("counts", {}).get("rows", 0), job.get("totalRows"), clock())
        if job.get("status") in ("done", "failed"):
            if job.get("status") == "done" and job.get("totalRows"):
                line = progress.line(job["totalRows"], job["totalRows"], clock())
            out.write(("\r" + line + "\n") if redraw else (line + "\n"))
            out.flush()
            return job
        if line != last:
            out.write(("\r" + line) if redraw else (line + "\n"))
            out.flush()
            last = line
        if clock() - started > timeout:
            raise ImportFailed(
                f"the import {import_id} is still running; follow it with GET /marketing/imports/{import_id}"
            )
        sleep(POLL_SECONDS)


def run_import(args: argparse.Namespace) -> int:
    try:
        return _run(args, sys.stdout, sys.stderr)
    except ImportFailed as exc:
        print(f"leadstream import: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise ImportFailed(f"{args.file} is not a file")
    parts = urllib.parse.urlsplit(args.api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImportFailed(f"--api-url must be an http or https URL, not {args.api_url!r}")
    mapping = _read_mapping(args.mapping) if args.mapping else None
    api = Api(
        args.api_url,
        args.token or _local_token(args.aws_url, "admin" if args.kind == "accounts" else "marketing"),
    )
    body: dict[str, Any] = {
        "kind": args.kind,
        "fileName": path.name,
        "size": max(path.stat().st_size, 1),
        "encoding": args.encoding,
        "dryRun": bool(args.dry_run),
    }
    if mapping is not None:
        body["mapping"] = mapping
    created = api.call("POST", "/marketing/imports", body)
    import_id = created["import"]["importId"]
    upload = created["upload"]
    put_file(upload["url"], path, upload["headers"].get("Content-Type", "text/csv"))
    started_at = time.monotonic()
    api.call("POST", f"/marketing/imports/{import_id}/start")
    job = follow(api, import_id, err)
    if job.get("status") == "failed":
        raise ImportFailed(f"the file was not imported: {job.get('error')}")
    for line in summary(job, time.monotonic() - started_at):
        print(line, file=out)
    if job.get("errorFileUrl"):
        if args.errors:
            urllib.request.urlretrieve(job["errorFileUrl"], args.errors)
            print(f"  rejected rows (row, column, reason): {args.errors}", file=out)
        else:
            print(f"  rejected rows (row, column, reason): {job['errorFileUrl']}", file=out)
    return 0


def _read_mapping(name: str) -> dict[str, Any]:
    try:
        mapping = json.loads(Path(name).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ImportFailed(f"--mapping {name} is not a readable JSON file ({exc})") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(key, str) and (value is None or isinstance(value, str)) for key, value in mapping.items()
    ):
        raise ImportFailed(
            '--mapping must be a JSON object of column header to field or null: {"Mail": "email"}'
        )
    return mapping


def _local_token(aws_url: str, role: str) -> str:
    """A token of a user with `role` (marketing; admin for accounts, which are CRM records) from the local
    stack's user pool (a deployed stack needs --token)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from leadstream_local.auth import issue_token
    from leadstream_local.embedded_aws import FAKE_CREDENTIALS
    from leadstream_local.template import StackTemplate

    client = boto3.client(
        "cognito-idp",
        endpoint_url=aws_url,
        region_name=regions.resolve(),
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        return str(issue_token(StackTemplate.load(), client, role=role, user="importer"))
    except (LookupError, BotoCoreError, ClientError) as exc:
        raise ImportFailed(
            f"no --token given and no local stack's user pool at {aws_url} ({exc}); pass --token"
        ) from None

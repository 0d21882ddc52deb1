"""A `leadstream` command imports only what it needs: the parser alone imports none of the heavy
packages (each took its share of the 1-2 s every command used to spend before doing anything)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "boto3",
    "botocore",
    "pydantic",
    "moto",
    "cfnlint",
    "leadstream_local.stack",
    "tracking",
    "leadstream",
)

PROBE = """
import contextlib, io, json, sys
from leadstream_local.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(sys.argv[1:])
packages = {name.split(".")[0] for name in sys.modules}
print(json.dumps(sorted(packages | ({"leadstream_local.stack"} & set(sys.modules)))))
"""


def _imported_by(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["local", "--help"],
        ["token", "--help"],
        ["form", "add", "--help"],
        ["clock", "--help"],
        ["smoke", "--help"],
    ],
)
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    assert _imported_by(*argv) & set(HEAVY) == set()


def test_the_outbox_needs_no_aws_sdk() -> None:
    # Nothing listens on port 9 (discard): the command fails to connect, after importing what it needs.
    assert _imported_by("outbox", "--aws-url", "http://127.0.0.1:9") & set(HEAVY) == set()


def test_the_smoke_test_needs_no_aws_sdk() -> None:
    # Nothing listens on port 9: every check fails at once, after importing what the command needs.
    argv = ["smoke", "--api-url", "http://127.0.0.1:9", "--write-key", "k", "--token", "t", "--timeout", "0"]
    assert _imported_by(*argv) & set(HEAVY) == set()

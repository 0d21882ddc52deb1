"""The commands the start-up banner prints work as pasted in the project folder, in a shell that has no
virtualenv activated (a new user's shell)."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadstream_local.cli import cli_command, print_banner
from leadstream_local.stack import LocalStack
from leadstream_local.template import REPO_ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def banner() -> Iterator[tuple[LocalStack, str]]:
    with LocalStack(seed=False) as stack:
        out = io.StringIO()
        print_banner(stack, out)
        yield stack, out.getvalue()


def _commands(text: str) -> list[str]:
    """The shell commands of the banner that run the CLI, continuation lines joined."""
    commands, current = [], ""
    for line in text.splitlines():
        current += line.strip().removesuffix("\\")
        if line.endswith("\\"):
            continue
        if cli_command() in current:
            commands.append(current)
        current = ""
    return commands


def _paste(command: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """In the project folder, with a PATH that has no virtualenv and no AWS settings of the caller's."""
    (tmp_path / "aws-config").write_text("")
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
    }
    return subprocess.run(
        ["bash", "-c", command],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_banner_names_the_cli_by_its_path_in_the_project(banner: tuple[LocalStack, str]) -> None:
    _, text = banner
    assert cli_command() == ".venv/bin/leadstream"  # `make` puts the virtualenv in the project
    assert [command.split(cli_command())[1].split()[0] for command in _commands(text)] == [
        "token",
        "outbox",
        "clock",
    ]
    assert " leadstream " not in text.replace(f" {cli_command()} ", " ")


def test_the_token_command_inside_curl_gets_through(banner: tuple[LocalStack, str], tmp_path: Path) -> None:
    _, text = banner
    (curl,) = (command for command in _commands(text) if " token " in command)
    done = _paste(curl, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "items" in json.loads(done.stdout), done.stdout  # a 401 would say {"message":"Unauthorized"}


@pytest.mark.parametrize("name", ["outbox", "clock"])
def test_the_printed_commands_run(banner: tuple[LocalStack, str], tmp_path: Path, name: str) -> None:
    _, text = banner
    (command,) = (command for command in _commands(text) if f" {name} " in command)
    done = _paste(command, tmp_path)
    assert done.returncode == 0, done.stderr

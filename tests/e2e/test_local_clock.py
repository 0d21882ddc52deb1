"""The local stack's clock: `leadstream clock advance` and LocalStack.advance_clock move one clock that
the hosted functions read (leadstream.clock) and that fires EventBridge Scheduler's one-time schedules."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from leadstream import clock
from leadstream_local.cli import main
from leadstream_local.stack import LocalStack


def test_the_cli_and_the_stack_move_the_same_clock(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    before = local_stack.now()
    assert main(["clock", "advance", "1h", "--aws-url", local_stack.aws_url]) == 0
    assert "local time" in capsys.readouterr().out
    local_stack.advance_clock(timedelta(minutes=30))  # also picks up what the CLI wrote

    moved = local_stack.now() - before
    assert timedelta(minutes=90) <= moved < timedelta(minutes=95)
    assert float(os.environ[clock.OFFSET_VARIABLE]) >= 90 * 60
    assert clock.now() - datetime.now(UTC) >= timedelta(minutes=90) - timedelta(seconds=1)
    assert main(["clock", "advance", "soon", "--aws-url", local_stack.aws_url]) == 2

"""The e2e fixture: one local stack (template.yaml, embedded moto, free ports) shared by the e2e tests.

The stack is started by the first test that asks for it and stopped as soon as the run leaves this
directory, so the tests that follow (moto in-process via the `aws` fixture) find the process as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leadstream_local.stack import LocalStack

E2E_DIR = Path(__file__).resolve().parent


class _Shared:
    stack: LocalStack | None = None


@pytest.fixture
def local_stack() -> LocalStack:
    """The running local stack: the API at `.url`, the write key at `.write_key`, moto at `.aws_url`."""
    if _Shared.stack is None:
        _Shared.stack = LocalStack(port=0, aws_port=0, seed_demo=False).start()
    return _Shared.stack


def _stop() -> None:
    if _Shared.stack is not None:
        _Shared.stack.stop()
        _Shared.stack = None


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or E2E_DIR not in nextitem.path.resolve().parents:
        _stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _stop()

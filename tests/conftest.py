"""Shared fixtures: AWS is moto (the only thing we mock); every piece of our own code runs for real."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from moto_snapshot import MotoSnapshot

from leadstream_local import moto_speedups
from leadstream_local.template import StackTemplate

# Tests never reach real AWS: fake credentials and a fixed region, set before any client exists.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_METRICS_NAMESPACE="Leadstream",
    POWERTOOLS_SERVICE_NAME="tests",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

# A property test fails only when its property does not hold. How long an example takes to generate or run
# says nothing about the code on a machine shared with other work, so neither the deadline nor the too_slow
# health check applies; every other health check (a filter that rejects too much, data too large, a
# function-scoped fixture ...) still fails the test. Tests that suppress more add to this list.
settings.register_profile("leadstream", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("leadstream")

E2E_DIR = Path(__file__).resolve().parent / "e2e"

TEST_WRITE_KEY = "test-write-key-0001"
TEST_SOURCE_ID = "src-test"


def _reuse_cognito_signing_key() -> None:
    """moto parses the same bundled RSA key for every user pool it creates (about 0.3 s each), and every
    test creates the template's pool: parse it once. Only moto's user pool model sees the cached key."""
    from types import SimpleNamespace

    from joserfc import jwk
    from moto.cognitoidp import models

    key = jwk.RSAKey.import_key(models.load_resource("cognitoidp/resources/jwks-private.json"))
    models.jwk = SimpleNamespace(RSAKey=SimpleNamespace(import_key=lambda _data: key))  # type: ignore[assignment]


_reuse_cognito_signing_key()
moto_speedups.install()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Which tests run together in one worker (--dist loadgroup): each file's, as with --dist loadfile,
    except the end-to-end tests, which all go to one worker, one after the other, on the one local stack
    they share. Per file they came last (the fewest tests) and took turns with other files, so each
    worker started the stack several times and the run ended on them; as one large group they start
    early, and their waits for the stack overlap the other worker's CPU-bound tests."""
    for item in items:
        group = "e2e" if E2E_DIR in item.path.parents else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


def _reset_caches() -> None:
    from leadstream import caches

    caches.clear_all()  # clients and settings made for an earlier test's moto


@dataclass(frozen=True)
class _CreatedStack:
    """The template, parsed once per test process, and moto as creating its resources left it."""

    template: StackTemplate
    moto: MotoSnapshot
    environment: dict[str, str]  # what the template's functions set (Globals and each function's own)

    def fresh_template(self) -> StackTemplate:
        """A template of its own for one test, naming the snapshot's resources."""
        return replace(self.template, physical=copy.deepcopy(self.template.physical))


def _mock_aws() -> Any:
    from moto import mock_aws

    # boto3's default session is kept from one test to the next (moto would start a new one per test):
    # a new session loads and parses every service's JSON model again, which cost more than the test.
    return mock_aws(config={"core": {"reset_boto3_session": False}})


@pytest.fixture(scope="session")
def _created_stack() -> _CreatedStack:
    """Create the template's resources once, in a moto of their own, and keep a snapshot of it."""
    import boto3

    template = StackTemplate.load()
    with _mock_aws():
        template.create_resources(boto3.client)
        snapshot = MotoSnapshot.take()
    environment: dict[str, str] = {}
    for function in template.functions():
        environment.update({key: str(value) for key, value in function.environment.items()})
    environment.pop("POWERTOOLS_SERVICE_NAME", None)
    return _CreatedStack(template, snapshot, environment)


@pytest.fixture
def aws(_created_stack: _CreatedStack) -> Iterator[StackTemplate]:
    """moto holding the template's resources, empty, and the environment the template sets."""
    with _mock_aws():
        _created_stack.moto.restore()
        old = {key: os.environ.get(key) for key in _created_stack.environment}
        os.environ.update(_created_stack.environment)
        _reset_caches()
        try:
            yield _created_stack.fresh_template()
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            _reset_caches()


@pytest.fixture
def source(aws: Any) -> Any:
    """A source with a known write key, open to any origin."""
    from tracking.sources import Source
    from tracking.store.sources import put_source

    src = Source(source_id=TEST_SOURCE_ID, name="Test site", write_key=TEST_WRITE_KEY)
    put_source(src)
    return src

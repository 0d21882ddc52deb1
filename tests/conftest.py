"""Shared fixtures: AWS is moto (the only thing we mock); every piece of our own code runs for real."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from leadstream_local import moto_speedups

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


def _reset_caches() -> None:
    from leadstream import caches

    caches.clear_all()  # each test has its own moto


@pytest.fixture
def aws() -> Iterator[Any]:
    """moto with the template's tables created from template.yaml, and the environment the template sets."""
    from moto import mock_aws

    from leadstream_local.template import StackTemplate

    with mock_aws():
        import boto3

        template = StackTemplate.load()
        template.create_resources(boto3.client)
        env = {}
        for function in template.functions():
            env.update({key: str(value) for key, value in function.environment.items()})
        env.pop("POWERTOOLS_SERVICE_NAME", None)
        old = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        _reset_caches()
        try:
            yield template
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

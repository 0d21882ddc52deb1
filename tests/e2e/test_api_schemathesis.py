"""Schemathesis against the whole authenticated API (/crm and /marketing) on a local stack of its own:
requests generated from the OpenAPI document the stack serves, sent over HTTP with a real admin token
(the role every route allows, so every route really runs). No answer may be a 5xx, and every answer must
be one the document describes (status, content type, headers, body schema).

The fuzzer creates, changes and deletes what it likes (scoring settings among them), so it gets its own
stack and leaves the shared one of the other e2e tests alone. Bounded so the suite stays fast: a few
examples per operation, derandomized (the same requests every run, so a failure reproduces). Set
API_FUZZ_EXAMPLES to look harder locally.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings

from leadstream_local.auth import issue_token
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = int(os.environ.get("API_FUZZ_EXAMPLES", "3"))


@pytest.fixture(scope="module")
def fuzzed_stack() -> Iterator[LocalStack]:
    stack = LocalStack(port=0, aws_port=0, seed_demo=False).start()
    try:
        yield stack
    finally:
        stack.stop()


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


def test_no_generated_request_breaks_the_api_or_its_document(fuzzed_stack: LocalStack) -> None:
    import schemathesis

    cognito = boto3.client("cognito-idp", endpoint_url=fuzzed_stack.aws_url, region_name=REGION)
    token = issue_token(fuzzed_stack.template, cognito, role="admin", user="fuzz")
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(
        f"{fuzzed_stack.url}/crm/openapi.json", headers=headers, timeout=30
    )
    checks = _checks()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {operation.path.split("/")[1] for operation in operations}
    assert paths == {"crm", "marketing"}
    assert len(operations) > 100  # the whole API, not an empty document

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            case.call_and_validate(base_url=fuzzed_stack.url, headers=headers, checks=checks, timeout=30)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as failure:  # every operation is tried; all are reported
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")

    assert failures == [], "\n\n".join(failures)

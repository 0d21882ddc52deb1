"""Schemathesis against the CRM API on the local stack: requests generated from the OpenAPI document the
stack serves, sent over HTTP with a real sales token. No answer may be a 5xx, and every answer must be
one the document describes (status, content type, headers, body schema).

Bounded so the suite stays fast: a few examples per operation, derandomized (the same requests every
run, so a failure reproduces). Set CRM_FUZZ_EXAMPLES to look harder locally.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings

from leadstream_local.auth import issue_token
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = int(os.environ.get("CRM_FUZZ_EXAMPLES", "4"))


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


def test_no_generated_request_breaks_the_api_or_its_document(local_stack: LocalStack) -> None:
    import schemathesis

    cognito = boto3.client("cognito-idp", endpoint_url=local_stack.aws_url, region_name=REGION)
    headers = {
        "Authorization": f"Bearer {issue_token(local_stack.template, cognito, role='sales', user='fuzz')}"
    }
    schema = schemathesis.openapi.from_url(f"{local_stack.url}/crm/openapi.json", headers=headers, timeout=30)
    checks = _checks()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # the whole CRM API, not an empty document

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
            case.call_and_validate(base_url=local_stack.url, headers=headers, checks=checks, timeout=30)

        try:
            exercise()
        except Exception as failure:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")

    assert failures == [], "\n\n".join(failures)

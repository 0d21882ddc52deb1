"""Fixtures for handler tests on moto: requests go through the template's own route table to the real
handler, in-process, exactly as the local stack and API Gateway would deliver them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from leadstream.events import TrackedEvent
from leadstream_local.inprocess import Call, InProcessApi
from leadstream_local.template import StackTemplate


@pytest.fixture
def call_api(aws: StackTemplate) -> Call:
    """`call_api(method, path, headers=..., body=..., query=..., token=...)` -> Reply."""
    return InProcessApi(aws).call


@pytest.fixture
def stored_events(aws: StackTemplate) -> Callable[[], list[TrackedEvent]]:
    """Every event in the events table (a test may scan; no request path does)."""

    def read() -> list[TrackedEvent]:
        import boto3

        from leadstream.settings import get_settings
        from leadstream.store.dynamo import deserialize

        pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=get_settings().events_table)
        return [TrackedEvent.from_item(deserialize(item)) for page in pages for item in page["Items"]]

    return read


@pytest.fixture
def token_for(aws: StackTemplate) -> Callable[..., str]:
    """`token_for(role, user="alice")`: a real access token of the template's user pool (moto)."""
    import boto3

    from leadstream_local.auth import issue_token

    client = boto3.client("cognito-idp")

    def issue(role: str, user: str = "alice") -> str:
        return issue_token(aws, client, role=role, user=user)

    return issue

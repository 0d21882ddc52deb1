"""Fixtures for CRM API tests: a signed-in client per role over the template's routes (in-process, moto)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from crm_support import Crm

from leadstream_local.inprocess import Call


@pytest.fixture
def crm_as(call_api: Call, token_for: Callable[..., str]) -> Callable[..., Crm]:
    """`crm_as(role, user="alice")`: a client signed in with that role."""

    def client(role: str, user: str = "alice") -> Crm:
        return Crm(call_api, token_for(role, user))

    return client


@pytest.fixture
def sales(crm_as: Callable[..., Crm]) -> Crm:
    return crm_as("sales", "sam")


@pytest.fixture
def admin(crm_as: Callable[..., Crm]) -> Crm:
    return crm_as("admin", "ada")


@pytest.fixture
def marketing(crm_as: Callable[..., Crm]) -> Crm:
    return crm_as("marketing", "mia")


@pytest.fixture
def dynamodb_calls(aws: Any) -> Callable[[], list[str]]:
    """The DynamoDB operations made since the fixture started (our client only)."""
    from leadstream.aws import dynamodb

    calls: list[str] = []

    def count(event_name: str, **_: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    dynamodb().meta.events.register("before-call.dynamodb", count)
    return lambda: list(calls)

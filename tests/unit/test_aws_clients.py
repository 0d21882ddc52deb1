"""AWS clients: how often each may send one request. SendEmail and PutEvents carry no idempotency token,
so their clients never retry (a timed-out send might have gone out); DynamoDB retries throttling."""

from __future__ import annotations

import pytest

from leadstream import aws


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.mark.parametrize(("client", "attempts"), [(aws.sesv2, 1), (aws.eventbridge, 1), (aws.dynamodb, 9)])
def test_each_client_sends_a_request_at_most_so_many_times(client: object, attempts: int) -> None:
    retries = client().meta.config.retries  # type: ignore[operator]

    assert retries == {"mode": "standard", "total_max_attempts": attempts}

"""AWS clients, created once per container and only when first used.

Endpoints come from the standard environment (AWS_ENDPOINT_URL, AWS_REGION), so the same code runs
in AWS and on the local stack.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_dynamodb import DynamoDBClient


@cache
def dynamodb() -> DynamoDBClient:
    import boto3
    from botocore.config import Config

    # Standard retry mode retries throttling with backoff; adaptive would add client-side rate limiting.
    return boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 8}))


@cache
def secrets() -> SecretsProvider:
    """Powertools' Secrets Manager provider (it caches values for the `max_age` each caller asks)."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=boto3.client("secretsmanager"))


@cache
def sesv2() -> Any:
    import boto3
    from botocore.config import Config

    # No automatic retries: SendEmail has no idempotency token, so a retry after a timeout could send a
    # second copy. A failed send is retried by the queue instead, under the send claim (docs/email.md).
    return boto3.client("sesv2", config=Config(retries={"mode": "standard", "max_attempts": 1}))


@cache
def eventbridge() -> Any:
    import boto3
    from botocore.config import Config

    # No automatic retries: PutEvents has no idempotency token either; a handoff retries under its claim.
    return boto3.client("events", config=Config(retries={"mode": "standard", "max_attempts": 1}))


@cache
def cognito_idp() -> Any:
    import boto3

    return boto3.client("cognito-idp")


@cache
def sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@cache
def scheduler() -> Any:
    import boto3

    return boto3.client("scheduler")

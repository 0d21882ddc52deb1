"""AWS clients, created once per container and endpoint, and only when first used.

Endpoints come from the standard environment (AWS_ENDPOINT_URL, AWS_REGION), so the same code runs in AWS
and on the local stack. Each client is cached per endpoint and region (`AwsSettings`): a client made for
one environment (an earlier test's moto, another stack) is never handed to code running in another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from leadstream.caches import container_cache
from leadstream.models import Model
from leadstream.settings import load

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_dynamodb import DynamoDBClient


class AwsSettings(Model, frozen=True):
    """Where the clients go. boto3 reads these itself; here they tell one environment from another."""

    # Set by the local stack and tests (an embedded AWS); unset in AWS, where boto3 finds the endpoint.
    endpoint_url: str | None = Field(alias="AWS_ENDPOINT_URL", default=None)
    region: str | None = Field(alias="AWS_REGION", default=None)
    default_region: str | None = Field(alias="AWS_DEFAULT_REGION", default=None)


def aws_settings() -> AwsSettings:
    return load(AwsSettings)


def dynamodb() -> DynamoDBClient:
    # Standard retry mode retries throttling with backoff; adaptive would add client-side rate limiting.
    client: DynamoDBClient = _client("dynamodb", aws_settings(), total_attempts=9)
    return client


def secrets() -> SecretsProvider:
    """Powertools' Secrets Manager provider (it caches values for the `max_age` each caller asks)."""
    return _secrets(aws_settings())


def sesv2() -> Any:
    # No automatic retries: SendEmail has no idempotency token, so a retry after a timeout could send a
    # second copy. A failed send is retried by the queue instead, under the send claim (docs/email.md).
    return _client("sesv2", aws_settings(), total_attempts=1)


def eventbridge() -> Any:
    # No automatic retries: PutEvents has no idempotency token either; a handoff retries under its claim.
    return _client("events", aws_settings(), total_attempts=1)


def cognito_idp() -> Any:
    return _client("cognito-idp", aws_settings())


def sqs() -> Any:
    return _client("sqs", aws_settings())


def scheduler() -> Any:
    return _client("scheduler", aws_settings())


def s3() -> Any:
    """S3 with SigV4 presigning (the only kind newer regions and KMS-encrypted objects accept) and
    path-style addressing (which works with any endpoint, including the local stack's)."""
    return _client("s3", aws_settings(), s3_path_style=True)


@container_cache
def _client(
    service: str, environment: AwsSettings, *, total_attempts: int | None = None, s3_path_style: bool = False
) -> Any:
    """A new client; `environment` only keys the cache: boto3 reads those variables itself, with their
    service-specific variants (AWS_ENDPOINT_URL_S3 ...)."""
    import boto3
    from botocore.config import Config

    config = Config()
    if total_attempts is not None:
        # Total, the first try included: botocore's `max_attempts` counts retries only, so `max_attempts: 1`
        # would send a request twice.
        config = config.merge(Config(retries={"mode": "standard", "total_max_attempts": total_attempts}))
    if s3_path_style:
        config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    return boto3.client(service, config=config)  # type: ignore[call-overload]


@container_cache
def _secrets(environment: AwsSettings) -> SecretsProvider:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=_client("secretsmanager", environment))


def firehose() -> Any:
    return _client("firehose", aws_settings())


def athena() -> Any:
    return _client("athena", aws_settings())

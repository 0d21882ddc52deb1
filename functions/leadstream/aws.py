"""AWS clients, created once per container and only when first used.

Endpoints come from the standard environment (AWS_ENDPOINT_URL, AWS_REGION), so the same code runs
in AWS and on the local stack.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@cache
def dynamodb() -> DynamoDBClient:
    import boto3
    from botocore.config import Config

    # Standard retry mode retries throttling with backoff; adaptive would add client-side rate limiting.
    return boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 8}))

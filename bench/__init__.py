"""`make bench`: measurements recorded in docs/benchmarks.md (never timed assertions in tests)."""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from leadstream_local.template import StackTemplate

# What a benchmark on moto in this process needs: a region, stand-in credentials (moto checks none), and
# Powertools quiet, so its metrics and logs do not cost time the numbers would count.
MOTO_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def use_moto_environment() -> None:
    """Set what MOTO_ENVIRONMENT names unless the caller's environment already sets it."""
    for key, value in MOTO_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


@contextmanager
def stack_on_moto(**parameters: str) -> Iterator[StackTemplate]:
    """An embedded moto holding the template's resources, with every function's environment in os.environ
    (as the local stack sets it for its one process) and the shared caches cleared. moto's transactions
    back up only the items they touch (moto_speedups), so big tables cost what DynamoDB costs."""
    from moto import mock_aws

    from leadstream_local import moto_speedups
    from leadstream_local.stack import _clear_shared_caches

    use_moto_environment()
    moto_speedups.install()
    with mock_aws():
        import boto3

        template = StackTemplate.load(**parameters)
        template.create_resources(boto3.client)
        for function in template.functions():
            for key, value in function.environment.items():
                if key != "POWERTOOLS_SERVICE_NAME":
                    os.environ[key] = str(value)
        _clear_shared_caches()
        try:
            yield template
        finally:
            _clear_shared_caches()

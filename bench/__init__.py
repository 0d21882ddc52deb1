"""`make bench`: measurements recorded in docs/benchmarks.md (never timed assertions in tests)."""

import os

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

"""Cold start: a fresh interpreter importing each handler module, against one importing only boto3."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from leadstream_local.template import REPO_ROOT, StackTemplate

RUNS = 11


@dataclass(frozen=True)
class ImportCost:
    label: str
    median_ms: float
    ratio: float


def _environments() -> dict[str, dict[str, str]]:
    """What Lambda would set for each function: its template variables, resolved against an empty moto
    (names and ARNs only; nothing connects during an import)."""
    import boto3
    from moto import mock_aws

    base = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "functions"), "AWS_DEFAULT_REGION": "us-east-1"}
    with mock_aws():
        template = StackTemplate.load()
        template.create_resources(lambda service: boto3.client(service, region_name="us-east-1"))
        template.register_functions()
        template.register_http_apis("http://127.0.0.1")
        return {
            spec.logical_id: base | {key: _text(value) for key, value in spec.environment.items()}
            for spec in template.functions()
        }


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _fresh_import_seconds(statement: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], env=env, check=True)
    return time.perf_counter() - start


def handler_modules() -> dict[str, str]:
    functions = StackTemplate.load().of_type("AWS::Serverless::Function")
    return {name: res["Properties"]["Handler"].rsplit(".", 1)[0] for name, res in functions.items()}


def measure(runs: int = RUNS) -> list[ImportCost]:
    environments = _environments()
    plain = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    statements: dict[str, tuple[str, dict[str, str]]] = {"import boto3 (baseline)": ("import boto3", plain)}
    for name, module in handler_modules().items():
        env = environments[name]
        statements[f"{name} ({module})"] = (f"import {module}", env)
        # boto3 is imported lazily, on the first call to AWS: a cold invocation pays for both.
        statements[f"{name} + boto3, as a first request pays"] = (f"import {module}; import boto3", env)
    for statement, env in statements.values():  # compile bytecode once so no run pays for it
        _fresh_import_seconds(statement, env)
    samples: dict[str, list[float]] = {label: [] for label in statements}
    for _ in range(runs):  # interleaved, so a noisy moment hits every statement alike
        for label, (statement, env) in statements.items():
            samples[label].append(_fresh_import_seconds(statement, env))
    medians = {label: statistics.median(values) for label, values in samples.items()}
    baseline = medians["import boto3 (baseline)"]
    return [ImportCost(label, median * 1000, median / baseline) for label, median in medians.items()]

"""Cold start: a fresh interpreter importing each handler module, against one importing only boto3."""

from __future__ import annotations

import logging
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


# A first request: the handler module imported, then its first AWS call, through the client our code
# makes (leadstream.aws), to an AWS on loopback. The baseline makes the same call with bare boto3.
FIRST_CALL = "from leadstream import aws; aws.dynamodb().list_tables(Limit=1)"
BARE_FIRST_CALL = "import boto3; boto3.client('dynamodb').list_tables(Limit=1)"


@dataclass(frozen=True)
class ColdStart:
    imports: list[ImportCost]
    first_requests: list[ImportCost]


def measure(runs: int = RUNS) -> ColdStart:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        loopback = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", **_FAKE_CREDENTIALS}
        return _measure(runs, loopback)
    finally:
        server.stop()


_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
}


BASELINE = "import boto3 (baseline)"
FIRST_BASELINE = "import boto3 + one DynamoDB call (baseline)"
Statement = tuple[str, dict[str, str]]  # the code a fresh interpreter runs, in its environment


def _measure(runs: int, loopback: dict[str, str]) -> ColdStart:
    environments = _environments()
    plain = _with_bytecode({**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})
    imports: dict[str, Statement] = {BASELINE: ("import boto3", plain)}
    firsts: dict[str, Statement] = {FIRST_BASELINE: (BARE_FIRST_CALL, plain | loopback)}
    for name, module in handler_modules().items():
        env = _with_bytecode(environments[name])
        imports[f"{name} ({module})"] = (f"import {module}", env)
        firsts[f"{name} ({module})"] = (f"import {module}; {FIRST_CALL}", env | loopback)
    tables = {"imports": imports, "first requests": firsts}
    rows = {(table, label): statement for table, rows in tables.items() for label, statement in rows.items()}
    medians = _interleaved_medians(rows, runs)
    return ColdStart(
        imports=_relative(medians, "imports", BASELINE),
        first_requests=_relative(medians, "first requests", FIRST_BASELINE),
    )


def _with_bytecode(env: dict[str, str]) -> dict[str, str]:
    """Bytecode is written and reused, as for the packages pip installs: a shell that sets
    PYTHONDONTWRITEBYTECODE would otherwise make our modules alone pay for compiling on every run."""
    return {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _interleaved_medians(
    statements: dict[tuple[str, str], Statement], runs: int
) -> dict[tuple[str, str], float]:
    for statement, env in statements.values():  # compile bytecode once so no run pays for it
        _fresh_import_seconds(statement, env)
    samples: dict[tuple[str, str], list[float]] = {row: [] for row in statements}
    for _ in range(runs):  # interleaved, so a noisy moment hits every statement alike
        for row, (statement, env) in statements.items():
            samples[row].append(_fresh_import_seconds(statement, env))
    return {row: statistics.median(values) for row, values in samples.items()}


def _relative(medians: dict[tuple[str, str], float], table: str, baseline: str) -> list[ImportCost]:
    """One table's rows, each against that table's baseline."""
    base = medians[(table, baseline)]
    return [
        ImportCost(label, median * 1000, median / base)
        for (of, label), median in medians.items()
        if of == table
    ]

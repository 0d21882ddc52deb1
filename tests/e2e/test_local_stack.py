"""The local stack serves exactly template.yaml's routes, and its embedded AWS holds the template's tables."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from leadstream import keys
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item
from leadstream_local.seed import demo_forms, send_demo_traffic
from leadstream_local.stack import LocalStack
from leadstream_local.template import TEMPLATE_PATH

pytestmark = pytest.mark.e2e

ROUTE_NOT_FOUND = (404, {"message": "Not Found"})


def _template() -> dict[str, Any]:
    """template.yaml read on its own, not through the stack's template reader that is under test."""
    from cfnlint.decode import decode_str

    body, problems = decode_str(TEMPLATE_PATH.read_text())
    assert not problems
    assert body is not None
    return dict(body)


def _declared_routes() -> list[tuple[str, str]]:
    routes = []
    for resource in _template()["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                routes.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    assert routes, "template.yaml declares no HttpApi route"
    return routes


def _concrete(path: str) -> str:
    """A request path that the route template matches: {name} -> one segment, {name+} -> two."""
    return re.sub(r"\{[^}]+\}", lambda m: "a/b" if m.group(0).endswith("+}") else "probe", path)


def _request(stack: LocalStack, method: str, path: str) -> tuple[int, Any]:
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request(method, path, body=b"" if method in ("POST", "PUT", "PATCH") else None)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw


@pytest.mark.parametrize(("method", "path"), _declared_routes())
def test_every_declared_route_is_served(local_stack: LocalStack, method: str, path: str) -> None:
    answer = _request(local_stack, "GET" if method == "ANY" else method, _concrete(path))
    assert answer != ROUTE_NOT_FOUND, f"{method} {path} is declared but the stack has no route for it"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/not/declared/anywhere"), ("POST", "/leadstream-local-undeclared")],
)
def test_undeclared_paths_get_api_gateways_not_found(local_stack: LocalStack, method: str, path: str) -> None:
    assert _request(local_stack, method, path) == ROUTE_NOT_FOUND


def test_a_declared_path_with_an_undeclared_method_is_not_found(local_stack: LocalStack) -> None:
    declared = _declared_routes()
    path = declared[0][1]
    unused = next(
        m for m in ("DELETE", "PATCH", "PUT") if (m, path) not in declared and ("ANY", path) not in declared
    )
    assert _request(local_stack, unused, _concrete(path)) == ROUTE_NOT_FOUND


def test_the_aws_endpoint_holds_the_templates_tables(local_stack: LocalStack) -> None:
    declared = {
        resource.get("Properties", {}).get("TableName", name)
        for name, resource in _template()["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }
    client = boto3.client(
        "dynamodb",
        endpoint_url=local_stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
    )
    assert set(client.list_tables()["TableNames"]) == declared


def test_demo_visitors_become_profiles(local_stack: LocalStack) -> None:
    sent = send_demo_traffic(local_stack.url, local_stack.write_key)
    assert all(request.accepted for request in sent), sent
    assert local_stack.wait_idle()
    for _form, fields in demo_forms():
        identity = get_item(
            get_settings().main_table, keys.identity_key("email", fields["email"]), consistent=True
        )
        assert identity is not None, f"no profile for {fields['email']}"


def test_the_command_prints_where_things_are_and_stops_on_ctrl_c() -> None:
    command = [str(Path(sys.executable).parent / "leadstream"), "local", "--port", "0", "--aws-port", "0"]
    process = subprocess.Popen(
        [*command, "--no-demo", "--write-key", "cli-test-write-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(120, process.kill)  # a hung start must not hang the test run
    watchdog.start()
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(banner)
        api = re.search(r"API\s+(http://127\.0\.0\.1:\d+)", text)
        aws = re.search(r"AWS \(moto\)\s+(http://127\.0\.0\.1:\d+)", text)
        assert api is not None, text
        assert aws is not None, text
        assert "cli-test-write-key" in text
        assert "dynamodb scan --table-name" in text

        address = urlsplit(api.group(1))
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        connection.request("GET", "/not/declared")
        assert connection.getresponse().status == 404
        connection.close()
        tables = boto3.client(
            "dynamodb",
            endpoint_url=aws.group(1),
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        ).list_tables()["TableNames"]
        assert tables, "the printed AWS endpoint holds no table"

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, rest
        assert "stopped." in rest
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()


def test_leadstream_token_prints_a_token_the_stack_accepts(local_stack: Any, capsys: Any) -> None:
    from leadstream_local.auth import verify
    from leadstream_local.cli import main

    assert main(["token", "--role", "marketing", "--user", "mia", "--aws-url", local_stack.aws_url]) == 0
    token = capsys.readouterr().out.strip()
    (spec,) = local_stack.template.jwt_authorizers().values()
    claims = verify(spec, {"authorization": f"Bearer {token}"})
    assert claims is not None
    assert claims["cognito:groups"] == ["marketing"]

"""Starting and stopping the local stack leaves the process as it found it (tests share the process)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3
import pytest

from leadstream_local.stack import LocalStack

pytestmark = pytest.mark.e2e

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    CodeUri: lifecycle_code/
    Environment:
      Variables:
        TABLE: !Ref Things
Resources:
  OneFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: local_lifecycle_probe.handler
      Environment: {Variables: {WHO: one}}
  TwoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: local_lifecycle_probe.handler
      Environment: {Variables: {WHO: two}}
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    (tmp_path / "lifecycle_code").mkdir()
    (tmp_path / "lifecycle_code" / "local_lifecycle_probe.py").write_text(
        "def handler(event, context):\n    return event\n"
    )
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return path


def test_stop_restores_environment_and_path(template: Path) -> None:
    os.environ["AWS_PROFILE"] = "someone-elses-profile"
    environ_before, path_before = dict(os.environ), list(sys.path)
    try:
        with LocalStack(template_path=template, seed=False) as stack:
            assert os.environ["AWS_ENDPOINT_URL"] == stack.aws_url
            assert os.environ["TABLE"] == "Things"
            assert "AWS_PROFILE" not in os.environ  # a missing profile would break every client
        assert dict(os.environ) == environ_before
        assert sys.path == path_before
        assert type(os.environ) is os._Environ
    finally:
        os.environ.pop("AWS_PROFILE", None)


def test_a_restarted_stack_starts_empty(template: Path) -> None:
    with LocalStack(template_path=template, seed=False) as stack:
        boto3.client("dynamodb").put_item(TableName="Things", Item={"pk": {"S": "left-over"}})
    with LocalStack(template_path=template, seed=False) as stack:
        client = boto3.client("dynamodb", endpoint_url=stack.aws_url)
        assert client.scan(TableName="Things")["Items"] == []


def test_only_one_stack_runs_per_process(template: Path) -> None:
    with (
        LocalStack(template_path=template, seed=False),
        pytest.raises(RuntimeError, match="another LocalStack"),
    ):
        LocalStack(template_path=template, seed=False).start()

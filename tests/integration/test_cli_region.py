"""Every `leadstream` command, and the local stack it starts, runs in one region: AWS_REGION, else
AWS_DEFAULT_REGION, else the AWS profile's region, else us-east-1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from leadstream_local import regions
from leadstream_local.stack import FAKE_CREDENTIALS, LocalStack

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  MainTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
"""


@pytest.fixture
def no_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No region in the environment and an AWS config file of the test's own (empty so far)."""
    for name in (*regions.REGION_VARIABLES, "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return config


def test_aws_region_comes_first(no_region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert regions.resolve() == "eu-north-1"


def test_aws_default_region_comes_next(no_region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert regions.resolve() == "eu-west-1"


def test_then_the_profiles_region(no_region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_region.write_text("[profile work]\nregion = ap-southeast-2\n")
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert regions.resolve() == "ap-southeast-2"


def test_then_the_local_stacks_default(no_region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert regions.resolve() == "us-east-1"
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    assert regions.resolve() == "us-east-1"


@pytest.fixture
def stack_in_eu_west_1(tmp_path: Path) -> Iterator[LocalStack]:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    with LocalStack(template_path=tmp_path / "template.yaml", seed=False, region="eu-west-1") as stack:
        yield stack


def _leadstream(*argv: str, aws_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own whose environment names the region only in AWS_REGION."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("LEADSTREAM_CLOCK_OFFSET_SECONDS",)
    }
    (tmp_path / "aws-config").write_text("")
    environment.update(
        FAKE_CREDENTIALS,
        AWS_REGION="eu-west-1",
        AWS_ENDPOINT_URL=aws_url,
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
    )
    return subprocess.run(
        [sys.executable, "-m", "leadstream_local.cli", *argv],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.e2e
def test_form_add_with_only_aws_region_writes_in_that_region(
    stack_in_eu_west_1: LocalStack, tmp_path: Path
) -> None:
    argv = ["form", "add", "--table", "MainTable", "--source", "src-1", "--form-id", "f-1", "--name", "Demo"]
    done = _leadstream(*argv, aws_url=stack_in_eu_west_1.aws_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["formId"] == "f-1"
    table = boto3.client("dynamodb", endpoint_url=stack_in_eu_west_1.aws_url, region_name="eu-west-1")
    assert table.scan(TableName="MainTable")["Count"] == 1


@pytest.mark.e2e
def test_the_clock_command_moves_the_clock_of_a_stack_in_that_region(
    stack_in_eu_west_1: LocalStack, tmp_path: Path
) -> None:
    argv = ["clock", "advance", "2h", "--aws-url", stack_in_eu_west_1.aws_url]
    done = _leadstream(*argv, aws_url=stack_in_eu_west_1.aws_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "real time + 2:00:00" in done.stdout
    ssm = boto3.client("ssm", endpoint_url=stack_in_eu_west_1.aws_url, region_name="eu-west-1")
    assert ssm.get_parameter(Name="/leadstream-local/clock-offset-seconds")["Parameter"]["Value"] == "7200.0"

"""The local stack's machinery on a small template of its own: HTTP, per-function environment, streams,
schedules and the embedded AWS endpoint, with probe handlers written for the test."""

from __future__ import annotations

import http.client
import json
import os
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

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
    CodeUri: code/
    Timeout: 5
    Environment:
      Variables:
        IN_TABLE: !Ref InTable
        OUT_TABLE: !Ref OutTable
        SHARED: same-for-all
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  WebFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: local_stack_probe.echo
      Environment: {Variables: {SERVICE: web}}
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/echo/{name}"}}
        Post: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: "/echo/{name}"}}
  PutFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: local_stack_probe.put
      Environment: {Variables: {SERVICE: put}}
      Events:
        Put: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: /items}}
  BoomFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: local_stack_probe.boom
      Events:
        Boom: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /boom}}
  SinkFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: local_stack_probe.sink
      Environment: {Variables: {SERVICE: sink}}
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt InTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            FilterCriteria: {Filters: [{Pattern: '{"eventName": ["INSERT"]}'}]}
            DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt Failures.Arn}}
  TickFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: local_stack_probe.tick
      Environment: {Variables: {SERVICE: tick}}
      Events:
        Nightly: {Type: Schedule, Properties: {Schedule: "cron(0 3 * * ? *)"}}
  Failures:
    Type: AWS::SQS::Queue
  InTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  OutTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
"""

HANDLERS = """
import json
import os

import boto3


def echo(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-probe": "yes"},
        "cookies": ["probe=1; Path=/"],
        "body": json.dumps(
            {
                "routeKey": event["routeKey"],
                "pathParameters": event.get("pathParameters"),
                "query": event.get("queryStringParameters"),
                "body": event.get("body"),
                "service": os.environ.get("SERVICE"),
                "shared": os.environ.get("SHARED"),
                "function": context.function_name,
            }
        ),
    }


def put(event, context):
    item_id = json.loads(event["body"])["id"]
    boto3.client("dynamodb").put_item(TableName=os.environ["IN_TABLE"], Item={"pk": {"S": item_id}})
    return {"statusCode": 202, "body": ""}


def boom(event, context):
    raise RuntimeError("probe failure")


def sink(event, context):
    client = boto3.client("dynamodb")
    for record in event["Records"]:
        item = {"pk": record["dynamodb"]["Keys"]["pk"], "service": {"S": os.environ["SERVICE"]}}
        client.put_item(TableName=os.environ["OUT_TABLE"], Item=item)


def tick(event, context):
    return {"detailType": event["detail-type"], "service": os.environ.get("SERVICE")}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("probe-stack")
    (root / "code").mkdir()
    (root / "code" / "local_stack_probe.py").write_text(textwrap.dedent(HANDLERS))
    (root / "template.yaml").write_text(TEMPLATE)
    with LocalStack(template_path=root / "template.yaml", seed=False) as running:
        yield running


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_route_reaches_its_function_over_http(stack: LocalStack) -> None:
    status, headers, body = _get(f"{stack.url}/echo/ada?lang=en")
    assert status == 200
    assert headers["x-probe"] == "yes"
    assert headers["set-cookie"] == "probe=1; Path=/"
    echoed = json.loads(body)
    assert echoed["routeKey"] == "GET /echo/{name}"
    assert echoed["pathParameters"] == {"name": "ada"}
    assert echoed["query"] == {"lang": "en"}
    assert echoed["function"] == "leadstream-local-WebFunction"


def test_each_function_sees_its_own_environment(stack: LocalStack) -> None:
    echoed = json.loads(_get(f"{stack.url}/echo/x")[2])
    assert (echoed["service"], echoed["shared"]) == ("web", "same-for-all")
    assert stack.trigger_schedule("TickFunction") == {"detailType": "Scheduled Event", "service": "tick"}
    # Outside an invocation only what all functions share is set, and boto3 is pointed at moto.
    assert os.environ["SHARED"] == "same-for-all"
    assert "SERVICE" not in os.environ
    assert os.environ["AWS_ENDPOINT_URL"] == stack.aws_url


def test_undeclared_routes_get_api_gateways_404(stack: LocalStack) -> None:
    for url in (f"{stack.url}/nothing", f"{stack.url}/items", f"{stack.url}/echo/a/b"):
        status, _headers, body = _get(url)
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_a_raising_function_is_a_500(stack: LocalStack) -> None:
    status, _headers, body = _get(f"{stack.url}/boom")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_one_keep_alive_connection_carries_many_requests(stack: LocalStack) -> None:
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        answers: list[Any] = []
        sockets = set()
        for method, path, body, chunked in [
            ("GET", "/echo/one", None, False),
            ("POST", "/echo/two", b'{"n": 2}', False),
            ("POST", "/echo/three", iter([b'{"n":', b" 3}"]), True),
            ("GET", "/nowhere", None, False),
            ("GET", "/echo/five", None, False),
        ]:
            headers = {"content-type": "application/json"}
            connection.request(method, path, body=body, headers=headers, encode_chunked=chunked)
            response = connection.getresponse()
            answers.append((response.status, response.read()))
            sockets.add(id(connection.sock))
        assert [status for status, _ in answers] == [200, 200, 200, 404, 200]
        assert json.loads(json.loads(answers[1][1])["body"]) == {"n": 2}
        assert json.loads(json.loads(answers[2][1])["body"]) == {"n": 3}
        assert len(sockets) == 1  # the server never closed the connection
    finally:
        connection.close()


def test_stream_records_reach_their_function(stack: LocalStack) -> None:
    for item_id in ("s1", "s2", "s3"):
        request = urllib.request.Request(
            f"{stack.url}/items", data=json.dumps({"id": item_id}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
    assert stack.wait_idle()
    items = boto3.client("dynamodb", endpoint_url=stack.aws_url).scan(TableName="OutTable")["Items"]
    assert {(item["pk"]["S"], item["service"]["S"]) for item in items} >= {
        ("s1", "sink"),
        ("s2", "sink"),
        ("s3", "sink"),
    }


def test_the_aws_endpoint_serves_the_templates_resources(stack: LocalStack) -> None:
    session = boto3.Session(aws_access_key_id="any", aws_secret_access_key="any", region_name="us-east-1")
    tables = session.client("dynamodb", endpoint_url=stack.aws_url).list_tables()["TableNames"]
    assert sorted(tables) == ["InTable", "OutTable"]
    queues = session.client("sqs", endpoint_url=stack.aws_url).list_queues()["QueueUrls"]
    assert [url.rsplit("/", 1)[1] for url in queues] == ["Failures"]

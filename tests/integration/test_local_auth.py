"""The local JWT authorizer checks tokens as API Gateway does, with real tokens of the embedded Cognito."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from moto import mock_aws

from leadstream_local.auth import issue_token
from leadstream_local.inprocess import InProcessApi
from leadstream_local.template import StackTemplate

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Sub "https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}"
              audience: [!Ref PoolClient]
  Pool:
    Type: AWS::Cognito::UserPool
    Properties: {UserPoolName: probe-pool, UsernameAttributes: [email]}
  PoolClient:
    Type: AWS::Cognito::UserPoolClient
    Properties: {UserPoolId: !Ref Pool, ClientName: apps}
  Sales:
    Type: AWS::Cognito::UserPoolGroup
    Properties: {GroupName: sales, UserPoolId: !Ref Pool}
  Marketing:
    Type: AWS::Cognito::UserPoolGroup
    Properties: {GroupName: marketing, UserPoolId: !Ref Pool}
  Probe:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      CodeUri: code/
      Handler: auth_probe.handler
      Events:
        Closed: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /closed}}
        Open:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /open, Auth: {Authorizer: NONE}}
"""
PROBE = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
"""


@pytest.fixture
def stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[StackTemplate, InProcessApi, Any]]:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "auth_probe.py").write_text(PROBE)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    with mock_aws():
        template = StackTemplate.load(tmp_path / "template.yaml")
        template.create_resources(boto3.client)
        yield template, InProcessApi(template), boto3.client("cognito-idp")


def test_no_token_is_401_and_the_function_is_not_called(stack: Any) -> None:
    _, api, _ = stack
    reply = api.call("GET", "/closed")
    assert (reply.status, reply.json()) == (401, {"message": "Unauthorized"})


def test_open_route_needs_no_token(stack: Any) -> None:
    _, api, _ = stack
    reply = api.call("GET", "/open")
    assert reply.status == 200
    assert reply.json() is None


def test_valid_token_reaches_the_function_with_claims_as_api_gateway_formats_them(stack: Any) -> None:
    template, api, cognito = stack
    token = issue_token(template, cognito, role="sales", user="ada")
    reply = api.call("GET", "/closed", token=token)
    assert reply.status == 200, reply.body
    claims = reply.json()["jwt"]["claims"]
    assert claims["cognito:groups"] == "[sales]"
    assert claims["username"]
    assert claims["token_use"] == "access"


def test_token_role_is_exactly_the_one_asked_for(stack: Any) -> None:
    template, api, cognito = stack
    issue_token(template, cognito, role="sales", user="ada")
    token = issue_token(template, cognito, role="marketing", user="ada")
    claims = api.call("GET", "/closed", token=token).json()["jwt"]["claims"]
    assert claims["cognito:groups"] == "[marketing]"


def test_tampered_token_is_401(stack: Any) -> None:
    template, api, cognito = stack
    header, payload, signature = issue_token(template, cognito, role="sales", user="ada").split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["cognito:groups"] = ["admin"]
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert api.call("GET", "/closed", token=f"{header}.{forged}.{signature}").status == 401


def test_token_of_another_app_client_is_401(stack: Any) -> None:
    template, api, cognito = stack
    issue_token(template, cognito, role="sales", user="ada")
    pool_id = template.physical["Pool"]["Ref"]
    other = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="other")["UserPoolClient"][
        "ClientId"
    ]
    result = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=other,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ada@leadstream.local", "PASSWORD": "Local-Password-1234"},
    )["AuthenticationResult"]
    assert api.call("GET", "/closed", token=result["AccessToken"]).status == 401


def test_token_signed_by_another_key_or_expired_is_401(stack: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    template, api, cognito = stack
    valid = jwt.decode(
        issue_token(template, cognito, role="sales", user="ada"), options={"verify_signature": False}
    )
    kid = jwt.get_unverified_header(issue_token(template, cognito, role="sales", user="ada"))["kid"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(valid, stranger, algorithm="RS256", headers={"kid": kid})
    assert api.call("GET", "/closed", token=forged).status == 401
    expired = {**valid, "exp": int(time.time()) - 60}
    unsigned = jwt.encode(expired, "", algorithm="none")
    assert api.call("GET", "/closed", token=unsigned).status == 401

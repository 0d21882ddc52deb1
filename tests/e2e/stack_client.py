"""Calling the local stack over HTTP in e2e tests: as a website (write key) or a signed-in user (role)."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3

from leadstream.profiles import IdentityRef
from leadstream.store.profiles import profile_of
from leadstream_local.auth import issue_token
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class StackClient:
    """HTTP to the stack's API; with a role, every request carries a real token of the stack's user pool."""

    def __init__(self, stack: LocalStack, role: str | None = None, user: str = "mia") -> None:
        self.stack = stack
        self._token = None
        if role is not None:
            cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
            self._token = issue_token(stack.template, cognito, role=role, user=user)

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        address = urlsplit(self.stack.url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        payload = json.dumps(body).encode() if body is not None else None
        if payload is not None:
            headers.setdefault("Content-Type", "application/json")
        if self._token is not None:
            headers.setdefault("Authorization", f"Bearer {self._token}")
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def ok(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        """The JSON of a 200, 201 or 202 reply (anything else fails the test, showing the problem)."""
        reply = self.request(method, path, body, **headers)
        assert reply.status in (200, 201, 202), reply.body
        return reply.json()

    def track(self, kind: str, message: dict[str, Any]) -> None:
        """One Segment-spec call with the stack's write key (identify, track, page ...); waits it through."""
        basic = base64.b64encode(f"{self.stack.write_key}:".encode()).decode()
        reply = self.request("POST", f"/v1/{kind}", message, Authorization=f"Basic {basic}")
        assert reply.status == 200, reply.body
        assert self.stack.wait_idle(timeout=30)

    def known_person(self, email: str, **traits: Any) -> tuple[str, str]:
        """A visitor who tells us who they are: (their user id, their profile id)."""
        user = f"u-{uuid.uuid4().hex[:8]}"
        self.track("identify", {"userId": user, "traits": {"email": email, **traits}})
        profile = profile_of(IdentityRef(kind="email", value=email))
        assert profile is not None
        return user, profile.profile_id

"""Calling the local stack over HTTP in e2e tests: as a website (write key) or a signed-in user (role)."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3

from leadstream import keys
from leadstream.profiles import IdentityRef, iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import serialize
from leadstream.store.profiles import profile_of
from leadstream_local.auth import issue_token
from leadstream_local.outbox import OutboxEmail
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

    def send(self, kind: str, message: dict[str, Any]) -> None:
        """One Segment-spec call with the stack's write key (identify, track, page ...), not waited for."""
        basic = base64.b64encode(f"{self.stack.write_key}:".encode()).decode()
        reply = self.request("POST", f"/v1/{kind}", message, Authorization=f"Basic {basic}")
        assert reply.status == 200, reply.body

    def track(self, kind: str, message: dict[str, Any]) -> None:
        """One Segment-spec call with the stack's write key (identify, track, page ...); waits it through."""
        self.send(kind, message)
        assert self.stack.wait_idle()

    def known_people(self, *traits: dict[str, Any]) -> list[tuple[str, str]]:
        """Visitors who tell us who they are (each `traits` has an email), all sent before one wait: the
        stack's stream batching windows then pass once, not once per person. (user id, profile id) each."""
        users = [f"u-{uuid.uuid4().hex[:8]}" for _ in traits]
        for user, person in zip(users, traits, strict=True):
            self.send("identify", {"userId": user, "traits": person})
        assert self.stack.wait_idle()
        return [(user, _profile_id(person["email"])) for user, person in zip(users, traits, strict=True)]

    def known_person(self, email: str, **traits: Any) -> tuple[str, str]:
        """A visitor who tells us who they are: (their user id, their profile id)."""
        [person] = self.known_people({"email": email, **traits})
        return person


def _profile_id(email: str) -> str:
    profile = profile_of(IdentityRef(kind="email", value=email))
    assert profile is not None, f"no profile for {email}"
    return profile.profile_id


def outboxes(stack: LocalStack, addresses: Iterable[str]) -> dict[str, list[OutboxEmail]]:
    """Each address's emails in the stack's outbox, oldest first, from one read (a read lists every
    model moto holds, so it costs more the longer the stack runs)."""
    emails = stack.outbox()
    return {address: [email for email in emails if address in email.to] for address in addresses}


def as_if_sent_long_ago(message_id: str) -> None:
    """Make an email look sent half an hour ago, as it is when a person (not a scanner) opens it: the
    scanner window counts real seconds from sending, which a test need not sit through."""
    long_ago = iso_utc(datetime.now(UTC) - timedelta(minutes=30))
    boto3.client("dynamodb").update_item(
        TableName=get_settings().main_table,
        Key=serialize(keys.send_key(message_id)),
        UpdateExpression="SET sentAt = :at, deliveredAt = :at",
        ExpressionAttributeValues=serialize({":at": long_ago}),
    )

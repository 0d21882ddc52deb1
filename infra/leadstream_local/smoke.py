"""`leadstream smoke`: does a deployed stack (or the local one) work end to end? Over its HTTP API only,
as its clients use it: a tracking event in with a write key, the person's profile scored off the events
stream, a CRM read and the OpenAPI document with a user's token. Standard library only, so the command
starts at once (docs/operations.md, Smoke test).
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

REQUEST_TIMEOUT = 15.0  # seconds for one HTTP request (API Gateway gives up on an integration after 30)
POLL_INTERVAL = 1.0
# SES's mailbox simulator accepts every message and counts none of it against the account's reputation,
# so an email a journey or campaign might send the smoke person costs nothing; the label keeps each run's
# person its own.
DEFAULT_EMAIL = "success+leadstream-smoke-{run}@simulator.amazonses.com"


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no HTTP answer at all (detail says why)
    body: bytes = b""
    request_id: str | None = None  # API Gateway's apigw-requestid header: the correlation id of the logs
    detail: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past what Python can parse
            return None

    def describe(self, what: str) -> str:
        """`what` answered how, with the request id to find the request's log lines by."""
        if self.status == 0:
            return f"{what}: no answer ({self.detail})"
        text = f"{what} answered {self.status}"
        problem = self.json()
        if isinstance(problem, dict):
            message = problem.get("detail") or problem.get("message") or problem.get("title")
            if message:
                text += f": {message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Api:
    """HTTP to the stack's API, with urllib."""

    base_url: str
    timeout: float = REQUEST_TIMEOUT

    def __post_init__(self) -> None:
        # urllib would also open file: and ftp: URLs; the smoke test speaks to an HTTP API only.
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--api-url must be an http or https URL, not {self.base_url!r}")

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url.rstrip("/") + path, data=data, method=method, headers=dict(headers or {})
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Reply(response.status, response.read(), response.headers.get("apigw-requestid"))
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(exc.code, exc.read(), exc.headers.get("apigw-requestid"))
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return Reply(0, detail=str(reason))


@dataclass
class Smoke:
    api: Api
    write_key: str
    token: str
    timeout: float = 60.0  # how long the profile may take to appear
    run: str = field(default_factory=lambda: secrets.token_hex(4))
    email: str = ""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.email = (self.email or DEFAULT_EMAIL.format(run=self.run)).lower()

    @property
    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def results(self) -> Iterator[Check]:
        """Each check as it ends, in order; the profile is looked for only once an event was accepted."""
        event = self.event_in()
        yield event
        not_tried = Check("profile scored", False, "not tried: no event was accepted")
        yield self.profile_scored() if event.passed else not_tried
        yield self.crm_read()
        yield self.openapi()

    def event_in(self) -> Check:
        """An identify (who the smoke person is) and a page view, in one batch, with the write key."""
        user_id = f"leadstream-smoke-{self.run}"
        batch = {
            "batch": [
                {
                    "type": "identify",
                    "userId": user_id,
                    "messageId": f"{user_id}-identify",
                    "traits": {"email": self.email, "name": "Leadstream smoke test", "leadstreamSmoke": True},
                },
                {
                    "type": "page",
                    "userId": user_id,
                    "messageId": f"{user_id}-page",
                    "name": "Leadstream smoke test",
                    "properties": {"path": "/leadstream-smoke-test"},
                },
            ]
        }
        basic = base64.b64encode(f"{self.write_key}:".encode()).decode()
        reply = self.api.call("POST", "/v1/batch", batch, {"Authorization": f"Basic {basic}"})
        answer = reply.json()
        if reply.status != 200 or not isinstance(answer, dict) or answer.get("success") is not True:
            return Check("event in", False, reply.describe("POST /v1/batch"))
        if answer.get("rejected"):
            return Check(
                "event in", False, f"POST /v1/batch rejected events: {json.dumps(answer['rejected'])}"
            )
        return Check("event in", True, f"POST /v1/batch accepted an identify and a page view of {self.email}")

    def profile_scored(self) -> Check:
        """The scoring function made the person's profile from the events stream: polled until it is there."""
        query = urllib.parse.urlencode({"email": self.email})
        started = self.clock()
        while True:
            reply = self.api.call("GET", f"/marketing/profiles?{query}", headers=self._bearer)
            waited = self.clock() - started
            if reply.status in (401, 403):
                return Check(
                    "profile scored", False, reply.describe("GET /marketing/profiles") + _hint(reply)
                )
            page = reply.json()
            if reply.status == 200 and isinstance(page, dict) and page.get("items"):
                profile = page["items"][0]
                return Check(
                    "profile scored",
                    True,
                    f"profile {profile.get('profileId')} after {waited:.1f} s: engagement "
                    f"{profile.get('engagement')}, fit {profile.get('fit')}, stage {profile.get('stage')}",
                )
            if reply.status not in (0, 200) and reply.status < 500:
                return Check("profile scored", False, reply.describe("GET /marketing/profiles"))
            if waited >= self.timeout:
                last = "" if reply.status == 200 else f"; last: {reply.describe('GET /marketing/profiles')}"
                return Check(
                    "profile scored",
                    False,
                    f"no profile for {self.email} after {waited:.0f} s: is the scoring function keeping up "
                    f"with the events stream? (iterator age, StreamFailureQueue){last}",
                )
            self.sleep(min(POLL_INTERVAL, max(self.timeout - waited, 0.0)))

    def crm_read(self) -> Check:
        reply = self.api.call("GET", "/crm/accounts?limit=1", headers=self._bearer)
        page = reply.json()
        if reply.status != 200 or not isinstance(page, dict) or not isinstance(page.get("items"), list):
            return Check("CRM read", False, reply.describe("GET /crm/accounts") + _hint(reply))
        return Check("CRM read", True, f"GET /crm/accounts answered 200 with a page of {len(page['items'])}")

    def openapi(self) -> Check:
        reply = self.api.call("GET", "/crm/openapi.json", headers=self._bearer)
        document = reply.json()
        if reply.status != 200 or not isinstance(document, dict):
            return Check("OpenAPI", False, reply.describe("GET /crm/openapi.json") + _hint(reply))
        version, paths = document.get("openapi"), document.get("paths")
        if not str(version).startswith("3.") or not isinstance(paths, dict) or not paths:
            return Check("OpenAPI", False, "GET /crm/openapi.json answered 200 without an OpenAPI 3 document")
        return Check("OpenAPI", True, f"GET /crm/openapi.json: OpenAPI {version}, {len(paths)} paths")


def _hint(reply: Reply) -> str:
    """API Gateway's 401 says no more than Unauthorized."""
    if reply.status == 401:
        return "; the token is missing, expired or not from this stack's user pool"
    return ""


def run(smoke: Smoke, out: TextIO | None = None) -> int:
    """Run every check, print each as it ends (to `out`, else standard output); 0 when all passed, else 1."""
    out = out or sys.stdout
    print(f"Smoke test of {smoke.api.base_url} (run {smoke.run})", file=out, flush=True)
    results: list[Check] = []
    for result in smoke.results():
        results.append(result)
        print(
            f"  {'passed' if result.passed else 'FAILED'}  {result.name}: {result.detail}",
            file=out,
            flush=True,
        )
    failed = [result.name for result in results if not result.passed]
    if failed:
        print(f"Smoke test failed: {', '.join(failed)} ({len(failed)} of {len(results)} checks).", file=out)
        return 1
    print(f"Smoke test passed: all {len(results)} checks.", file=out)
    return 0

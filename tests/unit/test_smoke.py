"""The smoke test's checks against canned answers: what passes, what fails, and that the wait for the
profile is bounded (a fake clock, no sleeping)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from leadstream_local import cli
from leadstream_local.smoke import Api, Reply, Smoke, run

PROFILE = {"profileId": "p-1", "engagement": 5.0, "fit": 0, "stage": "subscriber"}


class FakeApi(Api):
    """Answers by (method, path without query) from a table of functions of the call count."""

    def __init__(self, answers: dict[str, Callable[[int], Reply]]) -> None:
        super().__init__("https://api.example.test/")
        self.answers = answers
        self.calls: list[tuple[str, str, Any, dict[str, str]]] = []

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        self.calls.append((method, path, body, dict(headers or {})))
        key = _key(method, path)
        count = sum(1 for call in self.calls if _key(call[0], call[1]) == key)
        return self.answers[key](count)


def _key(method: str, path: str) -> str:
    return f"{method} {path.partition('?')[0]}"


def _json(status: int, body: Any, request_id: str | None = "req-1") -> Reply:
    return Reply(status, json.dumps(body).encode(), request_id)


def _working(profile_after: int = 1) -> dict[str, Callable[[int], Reply]]:
    return {
        "POST /v1/batch": lambda _n: _json(200, {"success": True}),
        "GET /marketing/profiles": lambda n: _json(
            200, {"items": [PROFILE] if n >= profile_after else [], "nextCursor": None}
        ),
        "GET /crm/accounts": lambda _n: _json(200, {"items": [], "nextCursor": None}),
        "GET /crm/openapi.json": lambda _n: _json(200, {"openapi": "3.1.0", "paths": {"/crm/accounts": {}}}),
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _smoke(api: FakeApi, timeout: float = 10.0) -> tuple[Smoke, Clock]:
    clock = Clock()
    smoke = Smoke(api, "wk-1", "tok-1", timeout=timeout, run="abcd1234", clock=clock, sleep=clock.sleep)
    return smoke, clock


def test_a_working_stack_passes_every_check_and_exits_0() -> None:
    api = FakeApi(_working(profile_after=3))
    smoke, clock = _smoke(api)
    out = io.StringIO()
    assert run(smoke, out) == 0
    text = out.getvalue()
    assert text.count("  passed  ") == 4
    assert "profile p-1 after 2.0 s: engagement 5.0, fit 0, stage subscriber" in text
    assert clock.now == 2.0  # polled once a second until the profile was there
    method, path, body, headers = api.calls[0]
    assert (method, path) == ("POST", "/v1/batch")
    assert headers["Authorization"] == "Basic d2stMTo="  # the write key as the Basic user name
    assert [event["type"] for event in body["batch"]] == ["identify", "page"]
    assert body["batch"][0]["traits"]["email"] == "success+leadstream-smoke-abcd1234@simulator.amazonses.com"
    assert all(call[3].get("Authorization") == "Bearer tok-1" for call in api.calls[1:])
    assert "email=success%2Bleadstream-smoke-abcd1234%40simulator.amazonses.com" in api.calls[1][1]


def test_the_wait_for_the_profile_ends_at_the_timeout() -> None:
    smoke, clock = _smoke(FakeApi(_working(profile_after=10_000)), timeout=5)
    out = io.StringIO()
    assert run(smoke, out) == 1
    assert clock.now == 5.0
    assert "FAILED  profile scored: no profile for success+leadstream-smoke-abcd1234@" in out.getvalue()


def test_a_refused_token_fails_at_once_with_the_request_id() -> None:
    answers = _working()
    answers["GET /marketing/profiles"] = lambda _n: _json(403, {"title": "Forbidden", "detail": "sales only"})
    smoke, clock = _smoke(FakeApi(answers))
    out = io.StringIO()
    assert run(smoke, out) == 1
    assert clock.now == 0.0
    assert "FAILED  profile scored: GET /marketing/profiles answered 403: sales only (request id req-1)" in (
        out.getvalue()
    )


def test_no_event_in_means_no_wait_for_a_profile() -> None:
    answers = _working()
    answers["POST /v1/batch"] = lambda _n: _json(
        401, {"title": "Unauthorized", "detail": "Unknown write key."}
    )
    api = FakeApi(answers)
    out = io.StringIO()
    assert run(_smoke(api)[0], out) == 1
    text = out.getvalue()
    assert "FAILED  event in: POST /v1/batch answered 401: Unknown write key. (request id req-1)" in text
    assert "FAILED  profile scored: not tried: no event was accepted" in text
    assert "passed  CRM read" in text
    assert not [call for call in api.calls if call[1].startswith("/marketing/profiles")]


def test_rejected_events_and_a_document_that_is_not_openapi_fail() -> None:
    answers = _working()
    answers["POST /v1/batch"] = lambda _n: _json(200, {"success": True, "rejected": [{"index": 1}]})
    answers["GET /crm/openapi.json"] = lambda _n: _json(200, {"hello": "world"})
    out = io.StringIO()
    assert run(_smoke(FakeApi(answers))[0], out) == 1
    text = out.getvalue()
    assert 'FAILED  event in: POST /v1/batch rejected events: [{"index": 1}]' in text
    assert "FAILED  OpenAPI: GET /crm/openapi.json answered 200 without an OpenAPI 3 document" in text
    assert "Smoke test failed: event in, profile scored, OpenAPI (3 of 4 checks)." in text


def test_no_answer_at_all_says_why() -> None:
    reply = Reply(0, detail="[Errno 111] Connection refused")
    assert (
        reply.describe("GET /crm/accounts") == "GET /crm/accounts: no answer ([Errno 111] Connection refused)"
    )


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com", "http://", "example.com"])
def test_only_an_http_api_url_is_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="http or https"):
        Api(url)


@pytest.mark.parametrize("body", [b"[" * 100_000, b"\xff\xfe not utf-8", b"<html>"])
def test_a_reply_that_is_not_json_reads_as_none(body: bytes) -> None:
    assert Reply(200, body).json() is None


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1", "3601", "soon"])
def test_the_cli_refuses_an_endless_or_negative_wait(
    timeout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "smoke",
        "--api-url",
        "http://127.0.0.1:9",
        "--write-key",
        "k",
        "--token",
        "t",
        "--timeout",
        timeout,
    ]
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert "--timeout" in capsys.readouterr().err

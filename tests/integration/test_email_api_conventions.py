"""The email API's conventions, for each of its versioned documents (templates, segments, campaigns,
journeys), through the template's routes and JWT authorizer: If-Match on every change (428 without it, 412
when stale or weak, `*` matches), If-Match on actions only when sent, Idempotency-Key on every create, and
lists that refuse a query parameter they do not know."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from email_support import template

from leadstream_local.inprocess import Call, Reply
from leadstream_local.template import StackTemplate

GERMANY = {"type": "trait", "path": "country", "op": "eq", "value": "germany"}
TEMPLATE = {"name": "Welcome", "subject": "Hello {{ first_name | default('there') }}", "html": "<p>Hi</p>"}


@dataclass(frozen=True)
class Kind:
    """A versioned document of the email API: where it lives, its id field, a body to create and change it."""

    name: str
    base: str
    id_field: str
    body: Callable[[dict[str, str]], dict[str, Any]]

    def path(self, created: Reply) -> str:
        return f"{self.base}/{created.json()[self.id_field]}"


def _journey(refs: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "Welcome",
        "trigger": {"type": "event", "event": "Signed Up"},
        "start": "hello",
        "steps": {"hello": {"type": "send_email", "templateId": refs["template"]}},
    }


KINDS = [
    Kind("template", "/marketing/templates", "templateId", lambda refs: dict(TEMPLATE)),
    Kind("segment", "/marketing/segments", "segmentId", lambda refs: {"name": "DE", "condition": GERMANY}),
    Kind(
        "campaign",
        "/marketing/campaigns",
        "campaignId",
        lambda refs: {"name": "Spring", "segmentId": refs["segment"], "templateId": refs["template"]},
    ),
    Kind("journey", "/marketing/journeys", "journeyId", _journey),
]
BY_NAME = {kind.name: kind for kind in KINDS}


@pytest.fixture
def marketer(token_for: Callable[..., str]) -> str:
    return token_for("marketing", "mia")


@pytest.fixture
def refs(aws: StackTemplate, call_api: Call, marketer: str) -> dict[str, str]:
    """A live template and segment for campaigns and journeys to name."""
    segment = call_api(
        "POST", "/marketing/segments", body={"name": "All DE", "condition": GERMANY}, token=marketer
    )
    assert segment.status == 201, segment.body
    return {"template": template().template_id, "segment": segment.json()["segmentId"]}


def _create(call_api: Call, token: str, kind: Kind, body: dict[str, Any], key: str | None = None) -> Reply:
    headers = [("Idempotency-Key", key)] if key else []
    return call_api("POST", kind.base, body=body, headers=headers, token=token)


def _renamed(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "name": f"{body['name']} (renamed)"}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_a_change_needs_the_current_version(
    call_api: Call, marketer: str, refs: dict[str, str], kind: Kind
) -> None:
    body = kind.body(refs)
    created = _create(call_api, marketer, kind, body)
    assert (created.status, created.headers["etag"]) == (201, '"1"'), created.body
    path, changed = kind.path(created), _renamed(body)

    def put(*if_match: str) -> Reply:
        return call_api(
            "PUT", path, body=changed, headers=[("If-Match", tag) for tag in if_match], token=marketer
        )

    missing = put()
    assert missing.status == 428
    assert missing.headers["content-type"] == "application/problem+json"
    assert "If-Match" in missing.json()["detail"]
    assert put('"7"').status == 412
    assert put('W/"1"').status == 412  # a weak tag never matches: If-Match compares strongly
    anything = put("*")
    assert (anything.status, anything.headers["etag"]) == (200, '"2"'), anything.body
    assert anything.json()["name"] == changed["name"]
    assert put('"1"').status == 412  # what version 1's readers would send now

    assert call_api("DELETE", path, token=marketer).status == 428
    assert call_api("DELETE", path, headers=[("If-Match", '"1"')], token=marketer).status == 412
    assert call_api("GET", path, token=marketer).json()["name"] == changed["name"]  # nothing changed
    assert call_api("DELETE", path, headers=[("If-Match", '"2"')], token=marketer).status == 204


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_a_create_retried_with_its_idempotency_key_creates_once(
    call_api: Call, marketer: str, refs: dict[str, str], kind: Kind
) -> None:
    body, key = kind.body(refs), str(uuid.uuid4())
    existing = len(call_api("GET", kind.base, token=marketer).json()["items"])  # those `refs` made
    first = _create(call_api, marketer, kind, body, key)
    again = _create(call_api, marketer, kind, body, key)

    assert first.status == again.status == 201, first.body
    assert again.json() == first.json()
    assert (again.headers["etag"], again.headers["location"]) == (first.headers["etag"], kind.path(first))
    listed = call_api("GET", kind.base, token=marketer).json()["items"]
    ids = [item[kind.id_field] for item in listed]
    assert ids.count(first.json()[kind.id_field]) == 1
    assert len(ids) == existing + 1

    other_body = _create(call_api, marketer, kind, _renamed(body), key)
    assert other_body.status == 422
    assert "Idempotency-Key" in other_body.json()["detail"]
    new_key = _create(call_api, marketer, kind, body, str(uuid.uuid4()))
    assert new_key.status == 201
    assert new_key.json()[kind.id_field] != first.json()[kind.id_field]


def test_keys_belong_to_their_caller(
    call_api: Call, marketer: str, token_for: Callable[..., str], refs: dict[str, str]
) -> None:
    kind, key = BY_NAME["template"], str(uuid.uuid4())
    mine = _create(call_api, marketer, kind, kind.body(refs), key)
    theirs = _create(call_api, token_for("marketing", "max"), kind, kind.body(refs), key)

    assert mine.status == theirs.status == 201
    assert theirs.json()["templateId"] != mine.json()["templateId"]


@pytest.mark.parametrize(
    "path",
    [
        "/marketing/templates",
        "/marketing/segments",
        "/marketing/campaigns",
        "/marketing/journeys",
        "/marketing/templates/tpl-x",
        "/marketing/journeys/jrn-x",
        "/marketing/journeys/jrn-x/runs",
        "/marketing/segments/seg-x/members",
    ],
)
def test_an_unknown_query_parameter_is_refused(call_api: Call, marketer: str, path: str) -> None:
    reply = call_api("GET", path, query="sort=name", token=marketer)

    assert reply.status == 422
    assert reply.json()["errors"] == [{"field": "query.sort", "message": "unknown parameter"}]


def test_lists_page_with_items_and_next_cursor(call_api: Call, marketer: str, refs: dict[str, str]) -> None:
    for name in ("A", "B", "C"):
        assert _create(call_api, marketer, BY_NAME["template"], {**TEMPLATE, "name": name}).status == 201

    first = call_api("GET", "/marketing/templates", query="limit=2", token=marketer).json()
    rest = call_api(
        "GET", "/marketing/templates", query=f"limit=2&cursor={first['nextCursor']}", token=marketer
    )

    names = [item["name"] for item in first["items"] + rest.json()["items"]]
    assert sorted(names) == ["A", "B", "C", "Welcome"]  # with the template of `refs`
    assert rest.json()["nextCursor"] is None
    assert call_api("GET", "/marketing/templates", query="limit=0", token=marketer).status == 422
    assert call_api("GET", "/marketing/templates", query="cursor=%25%25", token=marketer).status == 400


def test_a_campaign_action_checks_if_match_only_when_sent(
    call_api: Call, marketer: str, refs: dict[str, str]
) -> None:
    kind = BY_NAME["campaign"]
    path = kind.path(_create(call_api, marketer, kind, kind.body(refs)))
    later = {"at": "2999-01-01T09:00:00Z"}

    stale = call_api("POST", f"{path}/send", body=later, headers=[("If-Match", '"7"')], token=marketer)
    assert stale.status == 412
    assert (
        call_api("POST", f"{path}/send", body=later, headers=[("If-Match", 'W/"1"')], token=marketer).status
        == 412
    )
    scheduled = call_api("POST", f"{path}/send", body=later, headers=[("If-Match", '"1"')], token=marketer)
    assert (scheduled.status, scheduled.json()["status"], scheduled.headers["etag"]) == (
        202,
        "scheduled",
        '"2"',
    )

    assert call_api("POST", f"{path}/cancel", headers=[("If-Match", '"1"')], token=marketer).status == 412
    cancelled = call_api("POST", f"{path}/cancel", token=marketer)  # no If-Match: no check
    assert (cancelled.status, cancelled.json()["status"], cancelled.headers["etag"]) == (
        200,
        "cancelled",
        '"3"',
    )
    repeated = call_api("POST", f"{path}/cancel", headers=[("If-Match", '"1"')], token=marketer)
    assert (repeated.status, repeated.headers["etag"]) == (200, '"3"')  # a repeat changes nothing


def test_a_repeated_send_resumes_whatever_if_match_says(
    call_api: Call, marketer: str, refs: dict[str, str]
) -> None:
    kind = BY_NAME["campaign"]
    path = kind.path(_create(call_api, marketer, kind, kind.body(refs)))

    started = call_api("POST", f"{path}/send", headers=[("If-Match", '"1"')], token=marketer)
    assert (started.status, started.json()["status"]) == (202, "sending"), started.body
    retried = call_api("POST", f"{path}/send", headers=[("If-Match", '"1"')], token=marketer)

    assert (retried.status, retried.json()["status"]) == (202, "sending")  # a lost answer's retry finishes it


def test_journey_actions_check_if_match_only_when_sent(
    call_api: Call, marketer: str, refs: dict[str, str]
) -> None:
    kind = BY_NAME["journey"]
    path = kind.path(_create(call_api, marketer, kind, kind.body(refs)))
    edited = call_api(
        "PUT", path, body=_renamed(kind.body(refs)), headers=[("If-Match", '"1"')], token=marketer
    )
    assert edited.status == 200

    version_1 = {"version": 1}
    stale = call_api("POST", f"{path}/publish", body=version_1, headers=[("If-Match", '"1"')], token=marketer)
    assert stale.status == 412  # version 2 was saved since: publish what you reviewed, or read again
    assert call_api("GET", path, token=marketer).json()["status"] == "draft"
    published = call_api(
        "POST", f"{path}/publish", body=version_1, headers=[("If-Match", '"2"')], token=marketer
    )
    assert (published.status, published.json()["liveVersion"], published.headers["etag"]) == (200, 1, '"1"')

    assert call_api("POST", f"{path}/pause", headers=[("If-Match", '"1"')], token=marketer).status == 412
    paused = call_api("POST", f"{path}/pause", headers=[("If-Match", "*")], token=marketer)
    assert (paused.status, paused.json()["status"], paused.headers["etag"]) == (200, "paused", '"2"')
    assert call_api("POST", f"{path}/pause", token=marketer).status == 409  # the state machine refuses

"""The journeys API through the template's routes and JWT authorizer: create, 422 with paths, versions with
If-Match, publish, pause, runs, report, archive, and the marketing policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from email_support import template

from leadstream_local.inprocess import Call


def definition(template_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Welcome",
        "trigger": {"type": "event", "event": "Signed Up"},
        "start": "hello",
        "steps": {
            "hello": {"type": "send_email", "templateId": template_id, "next": "pause"},
            "pause": {"type": "wait", "duration": {"days": 2}, "next": "done"},
            "done": {"type": "exit"},
        },
        **fields,
    }


def test_a_journey_from_draft_to_archive(call_api: Call, token_for: Callable[..., str]) -> None:
    token = token_for("marketing")
    tpl = template()
    created = call_api("POST", "/marketing/journeys", body=definition(tpl.template_id), token=token)
    assert created.status == 201, created.body
    journey = created.json()
    journey_id = journey["journeyId"]
    assert (journey["status"], journey["version"], created.headers["etag"]) == ("draft", 1, '"1"')
    assert created.headers["location"] == f"/marketing/journeys/{journey_id}"

    path = f"/marketing/journeys/{journey_id}"
    changed = definition(tpl.template_id, name="Welcome v2")
    assert call_api("PUT", path, body=changed, token=token).status == 428
    assert call_api("PUT", path, body=changed, headers=[("If-Match", '"7"')], token=token).status == 412
    updated = call_api("PUT", path, body=changed, headers=[("If-Match", '"1"')], token=token)
    assert (updated.status, updated.json()["version"], updated.json()["latestVersion"]) == (200, 2, 2)

    published = call_api("POST", f"{path}/publish", body={"version": 1}, token=token)
    assert published.status == 200, published.body
    assert (published.json()["status"], published.json()["liveVersion"]) == ("live", 1)
    assert published.json()["pins"] == {"hello": tpl.version}
    first = call_api("GET", path, query="version=1", token=token).json()
    assert (first["name"], first["status"]) == ("Welcome", "live")
    assert [
        item["journeyId"] for item in call_api("GET", "/marketing/journeys", token=token).json()["items"]
    ] == [journey_id]

    paused = call_api("POST", f"{path}/pause", token=token)
    assert (paused.status, paused.json()["status"]) == (200, "paused")
    assert call_api("POST", f"{path}/pause", token=token).status == 409

    runs = call_api("GET", f"{path}/runs", query="profileId=nobody&limit=5", token=token)
    assert runs.json() == {"items": [], "nextCursor": None}
    report = call_api("GET", f"{path}/report", token=token).json()
    hello = next(step for step in report["steps"] if step["stepId"] == "hello")
    assert (hello["reached"], hello["email"]["sent"]) == (0, 0)

    assert call_api("DELETE", path, headers=[("If-Match", '"2"')], token=token).status == 204
    assert call_api("GET", "/marketing/journeys", token=token).json()["items"] == []
    assert call_api("POST", f"{path}/publish", body={"version": 2}, token=token).status == 409


def test_bad_journeys_are_422_with_the_fields_to_fix(call_api: Call, token_for: Callable[..., str]) -> None:
    token = token_for("marketing")
    tpl = template()
    dangling = definition(tpl.template_id)
    dangling["steps"]["pause"]["next"] = "nowhere"
    reply = call_api("POST", "/marketing/journeys", body=dangling, token=token)
    assert reply.status == 422
    assert [error["field"] for error in reply.json()["errors"]] == ["steps.pause.next"]

    missing = definition("tpl-does-not-exist")
    reply = call_api("POST", "/marketing/journeys", body=missing, token=token)
    assert reply.status == 422
    assert [error["field"] for error in reply.json()["errors"]] == ["steps.hello.templateId"]

    bad_field = definition(tpl.template_id, reentry={"mode": "sometimes"})
    reply = call_api("POST", "/marketing/journeys", body=bad_field, token=token)
    assert reply.status == 422
    assert [error["field"] for error in reply.json()["errors"]] == ["reentry.mode"]


def test_journeys_are_for_marketing(call_api: Call, token_for: Callable[..., str]) -> None:
    assert call_api("GET", "/marketing/journeys", token=token_for("sales")).status == 403
    assert call_api("GET", "/marketing/journeys/jrn-none", token=token_for("admin")).status == 404

"""The /marketing/segments API on moto: validation with field paths, If-Match, archive, lists, roles."""

from __future__ import annotations

from typing import Any

GERMANY = {"type": "trait", "path": "country", "op": "eq", "value": "germany"}


def test_segment_lifecycle_through_the_api(call_api: Any, token_for: Any) -> None:
    token = token_for("marketing")
    created = call_api("POST", "/marketing/segments", body={"name": "DE", "condition": GERMANY}, token=token)
    assert created.status == 201
    segment = created.json()
    segment_id = segment["segmentId"]
    assert created.headers["location"] == f"/marketing/segments/{segment_id}"
    assert created.headers["etag"] == '"1"'
    assert segment["backfill"] == segment["backfill"] | {"version": 1, "page": 0, "done": False}

    listed = call_api("GET", "/marketing/segments", query="limit=10", token=token).json()
    assert [item["segmentId"] for item in listed["items"]] == [segment_id]

    path = f"/marketing/segments/{segment_id}"
    renamed = {"name": "Germany", "condition": GERMANY}
    assert call_api("PUT", path, body=renamed, token=token).status == 428  # no If-Match
    assert call_api("PUT", path, body=renamed, headers=[("If-Match", '"7"')], token=token).status == 412
    updated = call_api("PUT", path, body=renamed, headers=[("If-Match", '"1"')], token=token)
    assert updated.status == 200
    assert updated.json()["conditionVersion"] == 1  # a rename keeps the members: no new backfill
    assert updated.headers["etag"] == '"2"'

    assert call_api("DELETE", path, headers=[("If-Match", '"2"')], token=token).status == 204
    assert call_api("GET", path, token=token).json()["archived"] is True
    assert call_api("GET", "/marketing/segments", token=token).json()["items"] == []
    assert call_api("PUT", path, body=renamed, headers=[("If-Match", '"3"')], token=token).status == 404
    assert call_api("GET", "/marketing/segments/seg-none/count", token=token).status == 404


def test_a_bad_condition_is_a_422_naming_each_field(call_api: Any, token_for: Any) -> None:
    body = {
        "name": "",
        "condition": {
            "type": "all",
            "conditions": [
                {"type": "trait", "path": "employees", "op": "gte"},
                {"type": "activity", "key": "Page Viewed", "op": "at_least", "days": 365},
            ],
        },
    }
    reply = call_api("POST", "/marketing/segments", body=body, token=token_for("marketing"))
    assert reply.status == 422
    assert reply.headers["content-type"] == "application/problem+json"
    fields = {error["field"] for error in reply.json()["errors"]}
    assert fields == {"name", "condition.all.conditions.0.trait", "condition.all.conditions.1.activity.days"}


def test_segments_need_the_marketing_role(call_api: Any, token_for: Any) -> None:
    reply = call_api("GET", "/marketing/segments", token=token_for("sales"))
    assert reply.status == 403
    cursor = call_api(
        "GET", "/marketing/segments/seg-x/members", query="cursor=%%%", token=token_for("admin")
    )
    assert cursor.status in (400, 404)

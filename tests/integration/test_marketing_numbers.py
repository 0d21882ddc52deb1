"""Numbers DynamoDB cannot hold, sent to the marketing API (segments, scoring, journeys, campaigns): a 422
naming the field path, and nothing stored. Raw JSON bodies, as a client may send them (`1e999` reads as
infinity, which used to be stored as null)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from leadstream_local.inprocess import Call

TRAIT_GT = '{"type": "trait", "path": "employees", "op": "gt", "value": %s}'
CASES = [
    pytest.param(
        "/marketing/segments",
        '{"name": "Hostile", "condition": %s}' % (TRAIT_GT % "1e999"),
        "condition.trait.value",
        id="segment-infinity",
    ),
    pytest.param(
        "/marketing/segments",
        '{"name": "Hostile", "condition": {"type": "all", "conditions": [%s]}}' % (TRAIT_GT % "1e300"),
        "condition.all.conditions.0.trait.value",
        id="segment-nested-too-large",
    ),
    pytest.param(
        "/marketing/segments",
        '{"name": "Hostile", "condition": {"type": "trait", "path": "n", "op": "in", "values": [1, NaN]}}',
        "condition.trait.values.1",
        id="segment-list-nan",
    ),
    pytest.param(
        "/marketing/segments",
        '{"name": "Hostile", "condition": {"type": "score", "score": "fit", "op": "gte", "value": 1e-300}}',
        "condition.score.value",
        id="segment-score-too-small",
    ),
    pytest.param(
        "/marketing/scoring-rules",
        '{"kind": "fit", "ruleId": "big", "name": "Hostile", "points": 5,'
        ' "conditions": [{"field": "employees", "op": "gte", "value": 1e999}]}',
        "fit.conditions.0.value",
        id="fit-rule-infinity",
    ),
    pytest.param(
        "/marketing/assignment-rules",
        '{"ruleId": "big", "name": "Hostile", "owner": "nils@corp.io",'
        ' "conditions": [{"field": "employees", "op": "lte", "value": -1e200}]}',
        "conditions.0.value",
        id="assignment-rule-too-large",
    ),
    pytest.param(
        "/marketing/campaigns",
        '{"name": "Hostile", "segmentId": "seg-1", "variants": [{"templateId": "a"}, {"templateId": "b"}],'
        ' "abTest": {"testPercentage": 1e-200, "decideAfterHours": 2}}',
        "abTest.testPercentage",
        id="campaign-ab-too-small",
    ),
    pytest.param(
        "/marketing/journeys",
        '{"name": "Hostile", "trigger": {"type": "event", "event": "Signed Up"}, "start": "b", "steps": {'
        ' "b": {"type": "branch", "condition": %s, "yes": "x"}, "x": {"type": "exit"}}}'
        % (TRAIT_GT % "123456789012345678901234567890123456789012"),
        "steps.b.branch.condition.trait.value",
        id="journey-branch-too-many-digits",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES)
def test_an_unstorable_number_is_a_422_at_its_path(
    call_api: Call, token_for: Callable[..., str], path: str, body: str, field: str
) -> None:
    token = token_for("marketing")
    reply = call_api("POST", path, body=body.encode(), token=token)
    assert reply.status == 422, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in reply.json()["errors"]] == [field]
    assert reply.json()["errors"][0]["message"].startswith("the number ")
    listed = call_api("GET", path, token=token).json()
    items = next(value for value in listed.values() if isinstance(value, list))
    assert [item for item in items if item["name"] == "Hostile"] == []


def test_scoring_settings_refuse_unstorable_thresholds(call_api: Call, token_for: Callable[..., str]) -> None:
    token = token_for("marketing")
    before = call_api("GET", "/marketing/scoring-settings", token=token).json()
    body = b'{"mqlEngagement": 5e-324, "grades": {"A": 1e130}}'
    reply = call_api("PUT", "/marketing/scoring-settings", body=body, token=token)
    assert reply.status == 422
    assert [error["field"] for error in reply.json()["errors"]] == ["mqlEngagement", "grades.A"]
    assert call_api("GET", "/marketing/scoring-settings", token=token).json() == before

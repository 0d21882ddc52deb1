"""The marketing API through the template's routes and JWT authorizer: profiles, timelines, rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scoring_support import Stream, tracked

from leadstream_local.inprocess import Call
from scoring.store.config import scoring_config

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def stream(aws: Any) -> Stream:
    scoring_config()
    return Stream(aws, store_events=True)


@pytest.fixture
def marketer(token_for: Callable[..., str]) -> str:
    return token_for("marketing", "mia")


@pytest.fixture
def people(stream: Stream) -> None:
    """Three known people with different engagement, one anonymous visitor."""
    for n, pages in enumerate((1, 3, 6)):
        anon, email = f"anon-{n}", f"person{n}@corp.io"
        stream.deliver(
            [
                tracked("identify", anonymousId=anon, traits={"email": email, "name": f"Person {n}"}, at=NOW),
                *(
                    tracked(
                        "page",
                        anonymousId=anon,
                        at=NOW + timedelta(minutes=minute + 1),
                        context={"page": {"url": f"https://x.io/docs/{minute}"}},
                    )
                    for minute in range(pages)
                ),
            ]
        )
    stream.deliver([tracked("page", anonymousId="stranger", at=NOW)])


def test_every_route_needs_the_marketing_or_admin_role(call_api: Call, token_for: Callable[..., str]) -> None:
    assert call_api("GET", "/marketing/profiles").status == 401
    denied = call_api("GET", "/marketing/scoring-rules", token=token_for("sales", "sam"))
    assert denied.status == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert call_api("GET", "/marketing/scoring-rules", token=token_for("admin", "ann")).status == 200


@pytest.mark.usefixtures("people")
def test_profiles_by_score_email_stage_and_tag(call_api: Call, marketer: str) -> None:
    top = call_api("GET", "/marketing/profiles", query="limit=2", token=marketer).json()
    assert [item["email"] for item in top["items"]] == ["person2@corp.io", "person1@corp.io"]
    assert top["items"][0]["engagement"] > top["items"][1]["engagement"]
    rest = call_api("GET", "/marketing/profiles", query=f"limit=2&cursor={top['nextCursor']}", token=marketer)
    assert [item["email"] for item in rest.json()["items"]] == ["person0@corp.io"]  # the stranger is unknown
    assert rest.json()["nextCursor"] is None

    found = call_api("GET", "/marketing/profiles", query="email=PERSON1@corp.io", token=marketer).json()
    assert [item["name"] for item in found["items"]] == ["Person 1"]
    subscribers = call_api("GET", "/marketing/profiles", query="stage=subscriber", token=marketer).json()
    assert len(subscribers["items"]) == 3
    bad = call_api("GET", "/marketing/profiles", query="stage=hot", token=marketer)
    assert bad.status == 422
    assert bad.json()["errors"][0]["field"] == "query.stage"
    assert "marketing-qualified" in bad.json()["errors"][0]["message"]
    unknown = call_api("GET", "/marketing/profiles", query="stgae=lead", token=marketer)
    assert unknown.status == 422
    assert unknown.json()["errors"] == [{"field": "query.stgae", "message": "unknown parameter"}]
    two = call_api("GET", "/marketing/profiles", query="stage=lead&tag=x", token=marketer)
    assert two.status == 400


def test_profiles_by_tag(stream: Stream, call_api: Call, marketer: str) -> None:
    stream.deliver(
        [
            tracked("identify", anonymousId="t1", traits={"email": "t1@corp.io"}, at=NOW),
            tracked("page", anonymousId="t1", at=NOW, context={"page": {"url": "https://x.io/pricing"}}),
        ]
    )
    page = call_api("GET", "/marketing/profiles", query="tag=interest:pricing", token=marketer).json()
    assert [item["email"] for item in page["items"]] == ["t1@corp.io"]


@pytest.mark.usefixtures("people")
def test_one_profile_and_its_timeline(call_api: Call, marketer: str) -> None:
    [summary] = call_api("GET", "/marketing/profiles", query="email=person2@corp.io", token=marketer).json()[
        "items"
    ]
    profile_id = summary["profileId"]
    detail = call_api("GET", f"/marketing/profiles/{profile_id}", token=marketer).json()
    assert detail["traits"]["name"] == "Person 2"
    assert {"kind": "email", "value": "person2@corp.io"} in detail["identities"]
    assert detail["stageHistory"][0]["stage"] == "subscriber"
    assert detail["handoffs"] == []

    first = call_api(
        "GET", f"/marketing/profiles/{profile_id}/events", query="limit=4", token=marketer
    ).json()
    assert [event["url"] for event in first["items"][:2]] == ["https://x.io/docs/5", "https://x.io/docs/4"]
    second = call_api(
        "GET",
        f"/marketing/profiles/{profile_id}/events",
        query=f"limit=4&cursor={first['nextCursor']}",
        token=marketer,
    ).json()
    assert len(first["items"]) + len(second["items"]) == 7  # identify and six pages
    assert second["nextCursor"] is None
    assert call_api("GET", "/marketing/profiles/nobody", token=marketer).status == 404


def test_moving_a_stage_back_needs_admin(
    stream: Stream, call_api: Call, marketer: str, token_for: Callable[..., str]
) -> None:
    stream.deliver([tracked("identify", anonymousId="s1", traits={"email": "s1@corp.io"}, at=NOW)])
    [person] = call_api("GET", "/marketing/profiles", query="email=s1@corp.io", token=marketer).json()[
        "items"
    ]
    path = f"/marketing/profiles/{person['profileId']}/stage"
    assert call_api("PUT", path, body={"stage": "customer"}, token=marketer).json()["stage"] == "customer"
    refused = call_api("PUT", path, body={"stage": "lead"}, token=marketer)
    assert refused.status == 409
    admin = token_for("admin", "ann")
    moved = call_api("PUT", path, body={"stage": "lead", "reason": "wrong import"}, token=admin)
    assert moved.json()["stage"] == "lead"
    assert call_api("PUT", path, body={"stage": "hot"}, token=admin).status == 422


def test_scoring_rules_crud(call_api: Call, marketer: str) -> None:
    listed = call_api("GET", "/marketing/scoring-rules", token=marketer).json()["items"]
    assert {"page-view", "pricing-page", "business-email"} <= {rule["ruleId"] for rule in listed}

    rule = {
        "ruleId": "webinar",
        "name": "Webinar attended",
        "eventType": "track",
        "eventName": "Webinar Attended",
        "points": 25,
        "frequency": "once",
        "addTags": ["webinar"],
    }
    created = call_api("POST", "/marketing/scoring-rules", body=rule, token=marketer)
    assert created.status == 201
    assert created.headers["location"] == "/marketing/scoring-rules/webinar"
    assert call_api("POST", "/marketing/scoring-rules", body=rule, token=marketer).status == 409
    changed = call_api("PUT", "/marketing/scoring-rules/webinar", body={**rule, "points": 30}, token=marketer)
    assert changed.json()["points"] == 30
    assert call_api("GET", "/marketing/scoring-rules/webinar", token=marketer).json()["points"] == 30
    renamed = call_api(
        "PUT", "/marketing/scoring-rules/webinar", body={**rule, "ruleId": "other"}, token=marketer
    )
    assert renamed.status == 400
    assert call_api("DELETE", "/marketing/scoring-rules/webinar", token=marketer).status == 204
    assert call_api("GET", "/marketing/scoring-rules/webinar", token=marketer).status == 404

    fit = {"kind": "fit", "ruleId": "big", "name": "Big", "points": 5, "conditions": [{"field": "employees"}]}
    invalid = call_api("POST", "/marketing/scoring-rules", body=fit, token=marketer)
    assert invalid.status == 422
    assert invalid.json()["errors"]


def test_assignment_rules_and_settings(call_api: Call, marketer: str) -> None:
    rule = {
        "ruleId": "nordics",
        "name": "Nordics",
        "conditions": [{"field": "country", "op": "one_of", "value": ["se", "no", "dk", "fi"]}],
        "owner": "nils@corp.io",
    }
    assert call_api("POST", "/marketing/assignment-rules", body=rule, token=marketer).status == 201
    listed = call_api("GET", "/marketing/assignment-rules", token=marketer).json()["items"]
    assert [item["ruleId"] for item in listed] == ["nordics"]

    settings = call_api("GET", "/marketing/scoring-settings", token=marketer).json()
    assert settings["halfLifeDays"] == 30
    updated = call_api(
        "PUT",
        "/marketing/scoring-settings",
        body={**settings, "halfLifeDays": 14, "mqlEngagement": 80},
        token=marketer,
    )
    assert updated.json()["mqlEngagement"] == 80
    assert call_api("GET", "/marketing/scoring-settings", token=marketer).json()["halfLifeDays"] == 14
    too_short = call_api("PUT", "/marketing/scoring-settings", body={"halfLifeDays": 0}, token=marketer)
    assert too_short.status == 422


@pytest.mark.parametrize(
    ("route", "broken"),
    [
        ("/marketing/profiles", "marketing.store.top_by_score"),  # the marketing API
        ("/crm/accounts", "crm.store.records.list_records"),  # the CRM API
    ],
)
def test_a_bug_is_a_logged_500_problem_with_its_correlation_id(
    call_api: Call,
    token_for: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    route: str,
    broken: str,
) -> None:
    module, name = broken.rsplit(".", 1)

    def fails(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug in our code")

    monkeypatch.setattr(f"{module}.{name}", fails)
    reply = call_api("GET", route, token=token_for("admin", "ann"))

    assert reply.status == 500
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["correlationId"] == reply.headers["apigw-requestid"]
    assert "bug" in problem["detail"]
    assert "a bug in our code" not in reply.body.decode()  # the client is told where, not what
    # Powertools writes JSON lines to stdout, or hands them to logging when a test captures it.
    written = [line for line in capsys.readouterr().out.splitlines() if "Unhandled error" in line]
    handed = [
        f"{record.__dict__.get('correlation_id')} {caplog.text}"
        for record in caplog.records
        if record.getMessage() == "Unhandled error"
    ]
    assert written or handed
    logged = "\n".join(written + handed)
    assert problem["correlationId"] in logged
    assert "a bug in our code" in logged  # with its traceback, for whoever reads the logs

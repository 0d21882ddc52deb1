"""Consent on moto: captured from identify calls, forms and the API; honoured by tracking (an event that
declines tracking stores nothing) and by the sender (a declined `email` or topic is skipped, recorded and
counted once); the preference center behind the email's signed link (a GET changes nothing, a POST saves;
hostile input is a 4xx); the access export carries consents."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from email_support import (
    person,
    raw_event,
    request,
    run_sender,
    send_record,
    ses_send_count,
    template,
    unpaced,
)
from scoring_support import Stream, tracked

from leadstream.events import TrackedEvent
from leadstream.store.consents import Answer, history, record
from leadstream.store.profiles import get_profile
from leadstream_local.inprocess import Call, Reply
from leadstream_local.template import StackTemplate
from mail.link_tokens import LinkSigner, link_keys
from mail.sends import SendStatus
from mail.store.suppression import get_suppression

pytestmark = pytest.mark.usefixtures("unpaced")
__all__ = ["unpaced"]
Stored = Callable[[], list[TrackedEvent]]
BASIC = "Basic " + base64.b64encode(b"test-write-key-0001:").decode()
FORM = ("content-type", "application/x-www-form-urlencoded")
T = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def token(token_for: Callable[..., str]) -> str:
    return token_for("marketing")


def _topic(call_api: Call, token: str, topic_id: str, name: str) -> None:
    reply = call_api("POST", "/marketing/topics", body={"topicId": topic_id, "name": name}, token=token)
    assert reply.status == 201, reply.body


def _report(campaign_id: str) -> dict[str, Any]:
    from mail.outcomes import report_for

    return {group: counters.model_dump() for group, counters in report_for("campaign", campaign_id).items()}


# --- tracking -------------------------------------------------------------------------------------------
def test_an_event_that_declines_tracking_stores_nothing(
    call_api: Call, source: Any, stored_events: Stored
) -> None:
    declined = {
        "userId": "user-9",
        "traits": {"email": "no@example.com", "firstName": "No"},
        "context": {"consent": {"categoryPreferences": {"Analytics": False, "Advertising": True}},
                    "ip": "203.0.113.9", "userAgent": "Mozilla/5.0"},
    }  # fmt: skip
    headers = [("content-type", "application/json"), ("authorization", BASIC)]
    reply = call_api("POST", "/v1/identify", headers=headers, body=declined)
    assert reply.status == 200
    assert reply.json() == {"success": True}
    batch = {
        "batch": [
            {"type": "track", "event": "Viewed", "anonymousId": "a-1",
             "context": {"consent": {"categoryPreferences": {"tracking": False}}}},
            {"type": "track", "event": "Viewed", "anonymousId": "a-2",
             "context": {"consent": {"categoryPreferences": {"tracking": True}}}},
            {"type": "track", "event": "Viewed", "anonymousId": "a-3"},
        ]
    }  # fmt: skip
    assert call_api("POST", "/v1/batch", headers=headers, body=batch).status == 200

    stored = stored_events()
    assert sorted(event.anonymous_id or "" for event in stored) == ["a-2", "a-3"]
    assert all(event.user_id != "user-9" for event in stored)


# --- identify (scoring) ---------------------------------------------------------------------------------
def test_an_identify_records_consent_per_purpose_with_its_proof(aws: StackTemplate) -> None:
    stream = Stream(aws)
    consent = {"categoryPreferences": {"email": True, "topic:news": False, "Advertising": False},
               "text": {"email": "Yes, send me marketing email"}}  # fmt: skip
    first = tracked("identify", at=T, userId="u-1", traits={"email": "kim@example.com"},
                    context={"consent": consent})  # fmt: skip
    assert stream.deliver([first]) == {"batchItemFailures": []}
    # The same answers again (consent wrappers repeat them on every event), redelivered too: no change.
    again = tracked(
        "track", at=T.replace(hour=13), userId="u-1", event="Viewed", context={"consent": consent}
    )
    assert stream.deliver([again, first]) == {"batchItemFailures": []}

    from leadstream.profiles import IdentityRef
    from leadstream.store.profiles import profile_of

    profile = profile_of(IdentityRef(kind="user", value="u-1"))
    assert profile is not None
    assert {p: (c.granted, c.source) for p, c in profile.consents.items()} == {
        "email": (True, "identify"),
        "topic:news": (False, "identify"),
    }
    assert profile.consents["email"].text == "Yes, send me marketing email"
    assert profile.consents["email"].message_id == first.message_id
    assert len(history(profile.profile_id)) == 2

    # A later answer that differs wins and leaves its own proof.
    later = tracked("track", at=T.replace(hour=14), userId="u-1", event="Viewed",
                    context={"consent": {"categoryPreferences": {"topic:news": True}}})  # fmt: skip
    stream.deliver([later])
    profile = get_profile(profile.profile_id)
    assert profile is not None
    assert profile.consents["topic:news"].granted is True
    entries = history(profile.profile_id)
    assert [(e["purpose"], e["granted"]) for e in entries] == [
        ("topic:news", True),
        ("topic:news", False),
        ("email", True),
    ]


def test_an_anonymous_visitors_consent_moves_to_the_person_on_merge(aws: StackTemplate) -> None:
    stream = Stream(aws)
    anonymous = tracked("page", at=T, anonymousId="anon-7", name="Home",
                        context={"consent": {"categoryPreferences": {"email": False}}})  # fmt: skip
    stream.deliver([anonymous])
    known = tracked("identify", at=T.replace(hour=13), anonymousId="anon-7", userId="u-7",
                    traits={"email": "lee@example.com"})  # fmt: skip
    stream.deliver([known])

    from leadstream.profiles import IdentityRef
    from leadstream.store.profiles import profile_of

    profile = profile_of(IdentityRef(kind="user", value="u-7"))
    assert profile is not None
    assert profile.consents["email"].granted is False
    assert profile.consents["email"].source == "page"


# --- the API -------------------------------------------------------------------------------------------
def test_consents_through_the_api_are_recorded_once(aws: StackTemplate, call_api: Call, token: str) -> None:
    kim = person("kim@example.com")
    path = f"/marketing/profiles/{kim.profile_id}/consents"
    assert call_api("GET", path, token=token).json() == {
        "profileId": kim.profile_id,
        "current": {},
        "history": [],
    }

    body = {"consents": [{"purpose": "email", "granted": True, "text": "Agreed on the phone"},
                         {"purpose": "topic:events", "granted": False}]}  # fmt: skip
    unknown = call_api("PUT", path, body=body, token=token)
    assert unknown.status == 422, unknown.body
    assert unknown.json()["errors"][0]["field"] == "consents.1.purpose"
    _topic(call_api, token, "events", "Events")
    first = call_api("PUT", path, body=body, token=token)
    assert first.status == 200, first.body
    second = call_api("PUT", path, body=body, token=token)  # a retry: nothing changes
    assert second.json()["current"] == first.json()["current"]
    view = call_api("GET", path, token=token).json()
    assert view["current"]["email"]["source"] == "api"
    assert view["current"]["email"]["text"] == "Agreed on the phone"
    assert sorted((e["purpose"], e["granted"]) for e in view["history"]) == [
        ("email", True),
        ("topic:events", False),
    ]

    for bad in (
        {"consents": [{"purpose": "advertising", "granted": True}]},
        {"consents": [{"purpose": "email", "granted": "yes please"}]},
        {"consents": []},
        {"consents": [{"purpose": "email", "granted": True}, {"purpose": "email", "granted": False}]},
        {"consents": [{"purpose": "email", "granted": True, "text": "x" * 5000}]},
    ):
        reply = call_api("PUT", path, body=bad, token=token)
        assert reply.status == 422, (bad, reply.body)
        assert reply.headers["content-type"] == "application/problem+json"
    assert call_api("GET", "/marketing/profiles/nobody/consents", token=token).status == 404
    assert call_api("PUT", "/marketing/profiles/nobody/consents", body=body, token=token).status == 404

    export = call_api(
        "POST", "/marketing/privacy/exports", body={"profileId": kim.profile_id}, token=token
    ).json()
    assert export["consents"]["current"]["email"]["granted"] is True
    assert len(export["consents"]["history"]) == 2


def test_topics_are_managed_and_checked_by_campaigns(call_api: Call, token: str) -> None:
    _topic(call_api, token, "news", "Product news")
    assert (
        call_api("POST", "/marketing/topics", body={"topicId": "news", "name": "Again"}, token=token).status
        == 409
    )
    assert (
        call_api("POST", "/marketing/topics", body={"topicId": "Bad Id", "name": "x"}, token=token).status
        == 422
    )
    got = call_api("GET", "/marketing/topics/news", token=token)
    assert got.json()["name"] == "Product news"
    changed = call_api("PUT", "/marketing/topics/news", body={"name": "News", "archived": True}, token=token,
                       headers=[("if-match", got.headers["etag"])])  # fmt: skip
    assert changed.status == 200, changed.body
    assert call_api("PUT", "/marketing/topics/news", body={"name": "x"}, token=token).status == 428
    assert call_api("GET", "/marketing/topics/none", token=token).status == 404
    assert [t["topicId"] for t in call_api("GET", "/marketing/topics", token=token).json()["items"]] == [
        "news"
    ]

    tpl = template()
    condition = {"type": "trait", "path": "country", "op": "eq", "value": "de"}
    segment = call_api(
        "POST", "/marketing/segments", token=token, body={"name": "All", "condition": condition}
    )
    assert segment.status == 201, segment.body
    campaign = {"name": "C", "segmentId": segment.json()["segmentId"], "templateId": tpl.template_id}
    for topic_id in ("news", "nope"):  # archived, unknown
        reply = call_api("POST", "/marketing/campaigns", body={**campaign, "topicId": topic_id}, token=token)
        assert reply.status == 422, reply.body
        assert reply.json()["errors"][0]["field"] == "topicId"


# --- the sender ----------------------------------------------------------------------------------------
def test_the_sender_skips_a_declined_topic_or_email_and_counts_it_once(aws: StackTemplate) -> None:
    tpl = template()
    opted_out = person("out@example.com")
    record(opted_out.profile_id, {"topic:news": Answer(granted=False)}, source="api", at=T, ref="t1")
    no_email = person("none@example.com")
    record(no_email.profile_id, {"email": Answer(granted=False)}, source="api", at=T, ref="t2")
    happy = person("yes@example.com")

    news = [request(p, tpl, topicId="news", campaignId="cmp-consent") for p in (opted_out, no_email, happy)]
    other = request(opted_out, tpl, topicId="events", campaignId="cmp-consent")
    event = raw_event([*news, other])
    assert run_sender(event) == {"batchItemFailures": []}
    assert run_sender(event) == {"batchItemFailures": []}  # redelivered: nothing twice

    assert ses_send_count() == 2  # happy's news, and the opted-out person's other topic
    assert send_record(news[0].message_id).reason == "consent:topic:news"
    assert send_record(news[1].message_id).reason == "consent:email"
    assert send_record(news[0].message_id).status is SendStatus.SKIPPED
    assert send_record(news[0].message_id).topic_id == "news"
    assert send_record(other.message_id).status is SendStatus.SENT
    counts = _report("cmp-consent")["A"]
    assert (counts["sent"], counts["skipped"]) == (2, 2)


# --- the preference center ------------------------------------------------------------------------------
def _sent_email(aws: StackTemplate, profile: Any, campaign_id: str = "cmp-prefs") -> str:
    """Send `profile` a real email; the path of its unsubscribe (preference center) link."""
    from email_support import ses_messages

    before = ses_send_count()
    run_sender(raw_event([request(profile, template(), campaignId=campaign_id)]))
    assert ses_send_count() == before + 1
    link = ses_messages()[-1]["List-Unsubscribe"].strip("<>")
    return "/email/" + link.split("/email/", 1)[1]


def _post(call_api: Call, path: str, body: bytes, *headers: tuple[str, str]) -> Reply:
    return call_api("POST", path, headers=[FORM, ("accept", "text/html"), *headers], body=body)


def test_the_preference_center_shows_without_changing_and_saves_on_post(
    aws: StackTemplate, call_api: Call, token: str, stored_events: Stored
) -> None:
    _topic(call_api, token, "news", "Product news")
    _topic(call_api, token, "events", "Events & webinars")
    ada = person("ada@example.com")
    path = _sent_email(aws, ada)

    for _ in range(3):  # scanners fetch every link: nothing changes
        page = call_api("GET", path)
        assert page.status == 200
        assert page.headers["cache-control"] == "no-store"
        html = page.body.decode()
        assert 'value="news" checked' in html
        assert 'value="events" checked' in html
        assert "Events &amp; webinars" in html
    assert get_profile(ada.profile_id).consents == {}  # type: ignore[union-attr]
    assert get_suppression("ada@example.com") is None

    saved = _post(call_api, path, b"action=save&topic=events")
    assert saved.status == 200, saved.body
    assert "Your choices are saved" in saved.body.decode()
    assert 'value="news">' in saved.body.decode()
    consents = get_profile(ada.profile_id).consents  # type: ignore[union-attr]
    assert (consents["topic:news"].granted, consents["topic:events"].granted) == (False, True)
    assert consents["topic:news"].source == "preference-center"
    assert consents["topic:news"].text == "Email about Product news"
    assert get_suppression("ada@example.com") is None
    _post(call_api, path, b"action=save&topic=events")  # the same choice again: no new proof
    assert len(history(ada.profile_id)) == 2

    done = _post(call_api, path, b"action=unsubscribe-all")
    assert "You are unsubscribed" in done.body.decode()
    assert get_suppression("ada@example.com") is not None
    assert get_profile(ada.profile_id).consents["email"].granted is False  # type: ignore[union-attr]
    assert "unsubscribed from all" in call_api("GET", path).body.decode()
    assert _report("cmp-prefs")["A"]["unsubscribed"] == 1


def test_one_click_unsubscribe_still_works_and_declines_email(aws: StackTemplate, call_api: Call) -> None:
    bo = person("bo@example.com")
    path = _sent_email(aws, bo)
    reply = call_api("POST", path, headers=[FORM], body=b"List-Unsubscribe=One-Click")
    assert (reply.status, reply.body) == (200, b"Unsubscribed.")
    assert get_suppression("bo@example.com") is not None
    assert get_profile(bo.profile_id).consents["email"].granted is False  # type: ignore[union-attr]


def test_hostile_input_on_the_preference_center_is_a_clear_4xx(
    aws: StackTemplate, call_api: Call, token: str
) -> None:
    _topic(call_api, token, "news", "Product news")
    cy = person("cy@example.com")
    path = _sent_email(aws, cy)
    token_part = path.rsplit("/", 1)[1]
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    cases: list[tuple[str, str, bytes, list[tuple[str, str]], int]] = [
        ("GET", forged, b"", [], 400),
        ("POST", forged, b"action=save", [FORM], 400),
        ("GET", "/email/unsubscribe/" + "x" * 5000, b"", [], 400),
        ("GET", "/email/unsubscribe/" + token_part.replace(".", ""), b"", [], 400),
        ("POST", path, b"action=save&topic=" + b"n" * 20_000, [FORM], 413),
        ("POST", path, b"action=save&topic=nope", [FORM], 422),
        ("POST", path, b"action=save&topic=news&evil=1", [FORM], 422),
        ("POST", path, b"action=delete-everything", [FORM], 422),
        ("POST", path, b"action=save&topic=caf\xe9", [FORM], 400),
        ("POST", path, b'{"action": "save"}', [("content-type", "application/json")], 415),
        ("POST", path, b"action=save&topic=%ZZ", [FORM], 422),
    ]
    for method, where, body, headers, status in cases:
        reply = call_api(method, where, headers=headers, body=body)
        assert reply.status == status, (method, where[:60], body[:40], reply.status, reply.body[:300])
        assert reply.headers["content-type"] == "application/problem+json"
    assert get_profile(cy.profile_id).consents == {}  # type: ignore[union-attr]
    assert get_suppression("cy@example.com") is None

    signer = LinkSigner("http://127.0.0.1:8787", link_keys())
    gone = "/email/" + signer.unsubscribe_url("never-sent").split("/email/", 1)[1]
    assert call_api("GET", gone).status == 404
    assert call_api("POST", gone, headers=[FORM], body=b"action=save").status == 404


def test_a_form_consent_checkbox_records_consent_with_source_form(
    aws: StackTemplate, call_api: Call, token: str, source: Any
) -> None:
    _topic(call_api, token, "news", "Product news")
    form = {
        "formId": "newsletter", "name": "Newsletter", "sourceId": source.source_id,
        "fields": [
            {"name": "email", "label": "Email", "kind": "email", "required": True},
            {"name": "ok", "label": "Send me marketing email", "kind": "consent"},
            {"name": "news", "label": "And product news", "kind": "consent", "purpose": "topic:news"},
        ],
    }  # fmt: skip
    created = call_api("POST", "/marketing/forms", body=form, token=token)
    assert created.status == 201, created.body
    bad = {**form, "formId": "bad", "fields": [*form["fields"][:1],  # type: ignore[index]
           {"name": "x", "label": "x", "kind": "consent", "purpose": "topic:missing"}]}  # fmt: skip
    assert call_api("POST", "/marketing/forms", body=bad, token=token).status == 422

    posted = call_api("POST", "/forms/newsletter", headers=[FORM], body=b"email=dee%40example.com&ok=on")
    assert posted.status in (200, 303), posted.body
    events = [e for e in _events() if e.event == "Form Submitted"]
    assert len(events) == 1
    assert events[0].context["consent"] == {
        "categoryPreferences": {"email": True},
        "text": {"email": "Send me marketing email"},
        "source": "form",
    }
    stream = Stream(aws)
    stream.deliver(events)
    from leadstream.profiles import IdentityRef
    from leadstream.store.profiles import profile_of

    profile = profile_of(IdentityRef(kind="email", value="dee@example.com"))
    assert profile is not None
    assert {p: (c.granted, c.source, c.text) for p, c in profile.consents.items()} == {
        "email": (True, "form", "Send me marketing email")
    }


def _events() -> list[TrackedEvent]:
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import deserialize

    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=get_settings().events_table)
    return [TrackedEvent.from_item(deserialize(item)) for page in pages for item in page["Items"]]


def test_a_journey_send_step_names_a_topic_that_its_emails_carry(
    aws: StackTemplate, call_api: Call, token: str
) -> None:
    from test_journeys_engine import FORM, live, sends, submitted

    from journeys.models import JourneyDefinition
    from journeys.triggers import on_profile_changes

    tpl = template()
    definition: dict[str, Any] = {
        "name": "Onboarding",
        "trigger": {"type": "form", "formId": FORM},
        "start": "hello",
        "steps": {
            "hello": {"type": "send_email", "templateId": tpl.template_id, "topicId": "tips", "next": "done"},
            "done": {"type": "exit"},
        },
    }
    refused = call_api("POST", "/marketing/journeys", body=definition, token=token)
    assert refused.status == 422, refused.body
    assert refused.json()["errors"][0]["field"] == "steps.hello.topicId"

    _topic(call_api, token, "tips", "Tips")
    journey_id = live(JourneyDefinition.model_validate(definition))
    reader = person("reader@example.org")
    on_profile_changes([submitted(reader)], [])
    (sent,) = sends(aws)
    assert (sent.journey_id, sent.topic_id) == (journey_id, "tips")


def test_unsubscribing_from_all_on_the_page_publishes_email_unsubscribed_once(
    aws: StackTemplate, call_api: Call
) -> None:
    from integrations_support import MainStream, bus_events, run_catalog

    eve = person("eve@example.com")
    path = _sent_email(aws, eve)
    stream = MainStream(aws)
    stream.new_records()  # what the send wrote: not this test's concern
    for _ in range(2):  # pressed twice: one unsubscribe
        assert _post(call_api, path, b"action=unsubscribe-all").status == 200
    records = stream.new_records()
    assert run_catalog(stream.lambda_event(records)) == {"batchItemFailures": []}
    assert run_catalog(stream.lambda_event(records)) == {"batchItemFailures": []}  # redelivered
    unsubscribed = [e for e in bus_events(aws) if e["detail-type"] == "email.unsubscribed"]
    assert len(unsubscribed) == 1

"""Consent as plain logic: reading Segment's consent object, newest wins per purpose whatever the order,
merges, what the sender refuses, what tracking keeps, what a form records, what the preference center
accepts in a POST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

import pytest

from leadstream.consents import (
    Consent,
    allows,
    changes,
    consents_of,
    declines_tracking,
    event_source,
    history_item,
    preferences,
    purpose_of,
)
from leadstream.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from leadstream.events import SegmentMessage, TrackedEvent
from leadstream.profiles import Profile
from mail.preferences import read_body
from mail.sending import consent_refusal
from mail.sends import SendRequest
from tracking import forms
from tracking.logic import Store, ingest
from tracking.sources import Form, FormConsent


def _consent(granted: bool, hour: int, *, text: str | None = None, source: str = "identify") -> Consent:
    at = f"2026-03-01T{hour:02d}:00:00.000000Z"
    return Consent(granted=granted, source=source, text=text, at=at, stamp=f"{at}|{at}|m{hour}|src")


def test_segment_categories_become_purposes() -> None:
    context = {
        "consent": {
            "categoryPreferences": {
                "Analytics": True,
                "Advertising": False,  # not a purpose of ours
                "EMAIL": False,
                "topic:news": True,
                "topic:Not Valid!": True,
                "tracking": "yes",  # not a boolean
                7: True,
            }
        }
    }
    assert preferences(context) == {"tracking": True, "email": False, "topic:news": True}
    assert preferences({"consent": {"categoryPreferences": {"Analytics": True, "tracking": False}}}) == {
        "tracking": False  # two names for one purpose: a decline wins
    }
    for junk in ({}, {"consent": "yes"}, {"consent": {"categoryPreferences": ["tracking"]}}):
        assert preferences(junk) == {}
    assert purpose_of(" Email_Marketing ") == "email"
    assert purpose_of("advertising") is None


def test_only_an_explicit_decline_stops_tracking() -> None:
    assert declines_tracking({"consent": {"categoryPreferences": {"Analytics": False}}})
    assert not declines_tracking({"consent": {"categoryPreferences": {"Analytics": True}}})
    assert not declines_tracking({"consent": {"categoryPreferences": {"email": False}}})
    assert not declines_tracking({})


def test_an_events_consents_carry_text_source_and_stamp() -> None:
    context = {
        "consent": {"categoryPreferences": {"email": True, "topic:a": False}, "text": {"email": "Yes"}}
    }
    found = consents_of(
        context, stamp="s", at="2026-03-01T00:00:00.000000Z", source="identify", message_id="m"
    )
    assert found["email"].text == "Yes"
    assert found["topic:a"].text is None
    assert {c.source for c in found.values()} == {"identify"}
    one_text = {"consent": {"categoryPreferences": {"email": True}, "text": "Same words for all"}}
    assert (
        consents_of(one_text, stamp="s", at="t", source="x", message_id=None)["email"].text
        == "Same words for all"
    )
    assert event_source({"consent": {"source": "form"}}, "track") == "form"
    assert event_source({"consent": {"source": "preference-center"}}, "identify") == "identify"


def test_newest_answer_wins_whatever_the_order() -> None:
    answers = [_consent(True, 9), _consent(False, 11), _consent(True, 10)]
    finals = set()
    for order in itertools.permutations(answers):
        profile = Profile(profile_id="p")
        for consent in order:
            profile.consent("email", consent)
        finals.add((profile.consents["email"].granted, profile.consents["email"].at))
    assert finals == {(False, "2026-03-01T11:00:00.000000Z")}


def test_a_repeated_answer_keeps_the_first_proof_but_new_words_are_a_change() -> None:
    profile = Profile(profile_id="p")
    assert profile.consent("email", _consent(True, 9, text="v1"))
    assert not profile.consent("email", _consent(True, 10))  # the same answer again
    assert not profile.consent("email", _consent(False, 8))  # older
    assert profile.consents["email"].at.startswith("2026-03-01T09")
    assert profile.consent("email", _consent(True, 11, text="v2"))  # agreed to new wording


def test_a_merge_takes_the_newer_answer_per_purpose() -> None:
    survivor = Profile(profile_id="s", consents={"email": _consent(True, 9), "topic:a": _consent(True, 12)})
    absorbed = Profile(profile_id="a", consents={"email": _consent(False, 10), "topic:a": _consent(False, 8)})
    before = dict(survivor.consents)
    survivor.absorb(absorbed)
    assert (survivor.consents["email"].granted, survivor.consents["topic:a"].granted) == (False, True)
    assert changes(before, survivor.consents) == [("email", absorbed.consents["email"])]


def test_history_items_are_the_same_for_the_same_change() -> None:
    consent = _consent(False, 9)
    first, again = history_item("p", "topic:a", consent), history_item("p", "topic:a", consent)
    assert first == again
    assert first["sk"].startswith("CONSENT#2026-03-01T09")
    assert history_item("p", "topic:a", _consent(False, 10))["sk"] != first["sk"]


@pytest.mark.parametrize(
    ("consents", "topic", "refused"),
    [
        ({}, None, None),
        ({}, "news", None),  # never asked: as before consent was recorded
        ({"email": _consent(False, 9)}, None, "email"),
        ({"email": _consent(False, 9)}, "news", "email"),
        ({"topic:news": _consent(False, 9)}, "news", "topic:news"),
        ({"topic:news": _consent(False, 9)}, "events", None),
        ({"topic:news": _consent(False, 9)}, None, None),
        ({"email": _consent(True, 9), "topic:news": _consent(True, 9)}, "news", None),
    ],
)
def test_what_the_sender_refuses(
    consents: dict[str, Consent], topic: str | None, refused: str | None
) -> None:
    request = SendRequest.model_validate(
        {"messageId": "m-1", "templateId": "t", "templateVersion": 1, "profileId": "p", "topicId": topic}
    )
    assert consent_refusal(request, Profile(profile_id="p", consents=consents)) == refused
    assert allows(consents, "tracking")


def _event(context: dict[str, Any], message_id: str) -> TrackedEvent:
    raw = {"type": "track", "event": "E", "anonymousId": "a", "messageId": message_id, "context": context}
    return SegmentMessage.model_validate(raw).to_tracked("src", datetime(2026, 3, 1, tzinfo=UTC))


def test_tracking_keeps_nothing_of_an_event_that_declines_and_reads_nothing() -> None:
    stored: list[list[str]] = []

    def forbidden(*_: Any) -> Any:
        raise AssertionError("the tracking path must not read to honour consent")

    store = Store(
        forbidden, forbidden, forbidden, lambda events: stored.append([e.message_id for e in events])
    )
    declined = {"consent": {"categoryPreferences": {"Analytics": False}}}
    events = [_event(declined, "m1"), _event({}, "m2"), _event(declined, "m3")]
    outcome = ingest(events, [], store)
    assert outcome.accepted == 3
    assert stored == [["m2"]]
    assert ingest([_event(declined, "m4")], [], store).accepted == 1
    assert stored == [["m2"]]  # nothing left to store: no write at all


def test_a_form_records_only_its_ticked_consent_boxes() -> None:
    form = Form(
        form_id="f",
        source_id="s",
        name="Newsletter",
        consents=[
            FormConsent(field="ok", purpose="email", text="Send me email"),
            FormConsent(field="news", purpose="topic:news", text="And news"),
        ],
    )

    def event(fields: dict[str, Any]) -> dict[str, Any]:
        return forms.form_event(
            form,
            fields,
            anonymous_id="a",
            referer=None,
            user_agent=None,
            idempotency_key=None,
            day=date(2026, 3, 1),
        )

    ticked = event({"email": "x@example.com", "ok": "on", "news": True})
    assert ticked["context"]["consent"] == {
        "categoryPreferences": {"email": True, "topic:news": True},
        "text": {"email": "Send me email", "topic:news": "And news"},
        "source": "form",
    }
    assert "consent" not in event({"email": "x@example.com", "ok": "off"})["context"]
    assert list(event({"email": "x@example.com", "news": ["", "on"]})["context"]["consent"]["text"]) == [
        "topic:news"
    ]


FORM_TYPE = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"action=save&topic=" + b"a" * 20_000, FORM_TYPE, PayloadTooLarge),
        (b'{"action":"save"}', "application/json", UnsupportedMediaType),
        (b"action=save&topic=\xff\xfe", FORM_TYPE, BadRequest),
        (b"action=save&admin=1", FORM_TYPE, InvalidInput),
    ],
)
def test_the_preference_center_refuses_what_its_page_never_sends(
    body: bytes, content_type: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        read_body(body, content_type)


def test_the_preference_center_reads_its_own_form() -> None:
    assert read_body(b"action=save&topic=a&topic=b", FORM_TYPE) == {"action": "save", "topic": ["a", "b"]}
    assert read_body(b"List-Unsubscribe=One-Click", None) == {"List-Unsubscribe": "One-Click"}


def test_one_click_comes_in_either_form_encoding() -> None:
    boundary = "b0undary"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    assert read_body(multipart, f"multipart/form-data; boundary={boundary}") == {
        "List-Unsubscribe": "One-Click"
    }
    assert read_body(b"List-Unsubscribe=One-Click", "text/plain") == {"List-Unsubscribe": "One-Click"}


@pytest.mark.parametrize(
    ("op", "answers"),
    [
        ("granted", {"granted"}),
        ("declined", {"declined"}),
        ("not_declined", {"granted", "never asked"}),
    ],
)
def test_a_segment_condition_on_consent(op: str, answers: set[str]) -> None:
    from audience.conditions import matches, parse_condition

    condition = parse_condition({"type": "consent", "purpose": "email", "op": op})
    people = {
        "granted": Profile(profile_id="g", consents={"email": _consent(True, 9)}),
        "declined": Profile(profile_id="d", consents={"email": _consent(False, 9)}),
        "never asked": Profile(profile_id="n"),
    }
    now = datetime(2026, 3, 2, tzinfo=UTC)
    assert {name for name, person in people.items() if matches(condition, person, now)} == answers


def test_a_consent_condition_names_a_real_purpose() -> None:
    from pydantic import ValidationError

    from audience.conditions import parse_condition

    with pytest.raises(ValidationError):
        parse_condition({"type": "consent", "purpose": "advertising", "op": "granted"})


def test_made_up_topics_cannot_grow_a_profile_without_bound() -> None:
    from leadstream.consents import MAX_TOPIC_PURPOSES

    profile = Profile(profile_id="p")
    for n in range(MAX_TOPIC_PURPOSES + 20):
        profile.consent(f"topic:t{n}", _consent(False, 9))
    assert len(profile.consents) == MAX_TOPIC_PURPOSES
    assert profile.consent("email", _consent(False, 9))  # the fixed purposes always fit
    assert profile.consent("topic:t0", _consent(True, 10))  # a held topic still changes

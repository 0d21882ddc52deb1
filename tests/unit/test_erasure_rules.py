"""Erasure rules on plain models (no AWS): what an anonymous event keeps, what an anonymous profile keeps,
how a returning identity founds a new profile past an erased one, and how the receipt reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from customerdata.erasure import Subject, receipt
from leadstream.events import SegmentMessage, TrackedEvent
from leadstream.profiles import IdentityRef, Profile, Touch
from leadstream.store.profiles import anonymous_profile
from scoring.identity import (
    BatchResolution,
    founded_profiles,
    founding_profile_id,
    new_profile_id,
    successor_profile_id,
)
from tracking.erasure import anonymous_event

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EMAIL = "kim.doe@example.com"
NEEDLES = [EMAIL, "Kim Doe", "+1 555 0100"]


def tracked(kind: str, **fields: Any) -> TrackedEvent:
    raw = {"type": kind, "messageId": "m-1", "timestamp": T0.isoformat(), **fields}
    return SegmentMessage.model_validate(raw).to_tracked("src", T0)


def test_an_erased_form_event_keeps_its_type_time_numbers_and_ids_only() -> None:
    event = tracked(
        "track",
        userId="u-kim",
        anonymousId="anon-kim",
        event="Form Submitted",
        properties={
            "formId": "demo",
            "fields": {"email": EMAIL, "phone": "+1 555 0100", "company": "Acme"},
            "revenue": 120.5,
            "orderId": "o-17",
            "note": "call me",
            "products": [{"sku": "A-1", "price": 10, "name": "Widget"}],
            "contactId": f"x-{EMAIL}",
        },
        context={
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0",
            "page": {"url": f"https://x.io/?email={EMAIL}"},
            "traits": {"email": EMAIL},
            "campaign": {"source": "newsletter", "medium": "email", "name": "spring"},
        },
        integrations={"All": True},
    )
    erased = anonymous_event(event, "erased-1", NEEDLES)
    assert erased.user_id is None
    assert erased.anonymous_id == "erased-1"
    assert erased.event == "Form Submitted"
    assert erased.timestamp == event.timestamp
    assert erased.properties == {
        "formId": "demo",
        "revenue": 120.5,
        "orderId": "o-17",
        "products": [{"sku": "A-1", "price": 10}],
    }
    assert erased.context == {"campaign": {"source": "newsletter", "medium": "email", "name": "spring"}}
    assert erased.traits == {}
    assert erased.integrations == {}
    assert erased.email is None
    assert erased.identity_key == "anon:erased-1"
    text = erased.model_dump_json().lower()
    assert all(needle.lower() not in text for needle in NEEDLES)


def test_an_identify_loses_its_traits_and_a_named_event_its_name() -> None:
    event = tracked("track", anonymousId="a", event=f"Signed up as {EMAIL}", traits={"email": EMAIL})
    erased = anonymous_event(event, "erased-2", NEEDLES)
    assert erased.event == "(erased)"
    assert erased.traits == {}


def test_deeply_nested_properties_are_cut_not_crashed() -> None:
    nested: dict[str, Any] = {"orderId": "o-1"}
    for _ in range(30):
        nested = {"inner": nested, "count": 1}
    erased = anonymous_event(tracked("track", anonymousId="a", event="E", properties=nested), "e", NEEDLES)
    assert json.dumps(erased.properties).count("inner") <= 7


def test_email_feedback_events_are_filed_under_their_address() -> None:
    event = TrackedEvent(
        source_id="email",
        message_id="ses-1",
        type="track",
        event="Email Delivered",
        context={"traits": {"email": EMAIL}},
        timestamp=T0,
        received_at=T0,
    )
    assert event.identity_key == f"email:{EMAIL}"
    assert tracked("track", anonymousId="a", event="E").identity_key == "anon:a"
    assert tracked("track", userId="u", anonymousId="a", event="E").identity_key == "user:u"


def test_an_anonymous_profile_keeps_what_reports_count() -> None:
    touch = Touch.model_validate(
        {
            "source": "google",
            "medium": "cpc",
            "campaign": "spring",
            "term": "kim doe",
            "url": f"https://x.io/?email={EMAIL}",
            "referrer": "https://mail.example.com",
            "at": T0,
            "messageId": "m",
            "stamp": "s",
        }
    )
    profile = Profile(
        profile_id="p-1",
        version=7,
        email=EMAIL,
        identities=[IdentityRef(kind="email", value=EMAIL), IdentityRef(kind="anon", value="a")],
        traits={"firstName": "Kim", "lastName": "Doe", "plan": "pro"},
        trait_stamps={"firstName": "s"},
        first_touch=touch,
        last_touch=touch,
        tags=["pricing"],
        first_seen=T0,
        last_seen=T0,
        activity={"page": {"2026-11-23": 3}},
    )
    erased = anonymous_profile(profile, T0)
    assert erased.erased_at == T0
    assert (erased.profile_id, erased.version, erased.tags, erased.activity) == (
        "p-1",
        7,
        ["pricing"],
        {"page": {"2026-11-23": 3}},
    )
    assert (erased.email, erased.identities, erased.traits, erased.trait_stamps) == (None, [], {}, {})
    assert erased.first_touch is not None
    assert (erased.first_touch.source, erased.first_touch.campaign) == ("google", "spring")
    assert (erased.first_touch.url, erased.first_touch.referrer, erased.first_touch.term) == (
        None,
        None,
        None,
    )
    assert anonymous_profile(erased, datetime(2027, 1, 1, tzinfo=UTC)).erased_at == T0  # kept once set


def test_a_returning_identity_founds_a_profile_past_the_erased_ones() -> None:
    ref = IdentityRef(kind="email", value=EMAIL)
    first = new_profile_id(ref)
    assert founding_profile_id(ref, {}) == first
    erased = Profile(profile_id=first, version=3, erased_at=T0)
    second = successor_profile_id(ref, first)
    assert founding_profile_id(ref, {first: erased}) == second
    twice = {first: erased, second: Profile(profile_id=second, version=1, erased_at=T0)}
    assert founding_profile_id(ref, twice) == successor_profile_id(ref, second)
    live = {first: Profile(profile_id=first, version=3)}
    assert founding_profile_id(ref, live) == first  # not erased: it is the person's

    reads: list[set[str]] = []

    def load(ids: set[str]) -> dict[str, Profile]:
        reads.append(ids)
        return {pid: twice[pid] for pid in ids if pid in twice}

    assert set(founded_profiles([ref], load)) == {first, second}
    assert len(reads) == 3  # the founder's id, its successor, the successor's (absent)

    resolution = BatchResolution({}, twice)
    profile = resolution.apply(tracked("identify", userId="u-back", traits={"email": EMAIL}))
    assert profile.profile_id not in twice
    assert profile.erased_at is None


def test_the_receipt_groups_counts_by_store_with_when_each_finished() -> None:
    job = {
        "receipt": {"events.anonymised": 3, "crm.contacts": 1, "crm.historyEntries": 4},
        "finished": {"events": "2026-12-01T10:00:00.000Z", "crm": "2026-12-01T10:00:01.000Z", "profile": "x"},
    }
    assert receipt(job) == [
        {
            "store": "crm",
            "items": {"contacts": 1, "historyEntries": 4},
            "finishedAt": "2026-12-01T10:00:01.000Z",
        },
        {"store": "events", "items": {"anonymised": 3}, "finishedAt": "2026-12-01T10:00:00.000Z"},
        {"store": "profile", "items": {}, "finishedAt": "x"},
    ]


@pytest.mark.parametrize(
    ("emails", "texts", "expected"),
    [
        (
            ["kim@example.com"],
            ["Kim Doe", "Al", "+1 555 0100"],
            ["+1 555 0100", "Kim Doe", "kim@example.com"],
        ),
        ([], ["Bo"], []),
    ],
)
def test_needles_skip_values_too_short_to_be_safe(
    emails: list[str], texts: list[str], expected: list[str]
) -> None:
    subject = Subject.model_validate({"pseudonym": "erased-x", "emails": emails, "texts": texts})
    assert subject.needles == expected

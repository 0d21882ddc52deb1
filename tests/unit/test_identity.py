"""Identity resolution rules, on plain models (no AWS)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from leadstream.events import SegmentMessage, TrackedEvent
from leadstream.profiles import IdentityRef, Profile, ProfileWrite, storable
from scoring.attribution import touch_of
from scoring.identity import BatchResolution, StaleRead, new_profile_id

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
_message_ids = itertools.count()


def tracked(
    kind: str,
    *,
    at: datetime = T0,
    received: datetime | None = None,
    sent: datetime | None = None,
    message_id: str | None = None,
    **fields: Any,
) -> TrackedEvent:
    """An event as tracking stores it (with its clock correction), from a Segment message."""
    raw: dict[str, Any] = {
        "type": kind,
        "messageId": message_id or f"m{next(_message_ids)}",
        "timestamp": at.isoformat(),
        **fields,
    }
    if sent is not None:
        raw["sentAt"] = sent.isoformat()
    return SegmentMessage.model_validate(raw).to_tracked("src", received or at)


def resolve(*events: TrackedEvent, base: BatchResolution | None = None) -> BatchResolution:
    resolution = base or BatchResolution({}, {})
    for event in events:
        resolution.apply(event)
    return resolution


def profile_of(resolution: BatchResolution, kind: str, value: str) -> Profile:
    return resolution.profiles[resolution.owners[IdentityRef(kind=kind, value=value)]]  # type: ignore[arg-type]


def stored_after(resolution: BatchResolution) -> BatchResolution:
    """A fresh batch's view of what `resolution` wrote (as the next batch would read it)."""
    profiles = {
        pid: p.model_copy(update={"version": p.version + 1}) for pid, p in resolution.profiles.items()
    }
    return BatchResolution(resolution.owners, profiles)


def refs(*pairs: tuple[str, str]) -> list[IdentityRef]:
    return sorted((IdentityRef(kind=kind, value=value) for kind, value in pairs), key=str)  # type: ignore[arg-type]


# --- anonymous and known ------------------------------------------------------------------------------
def test_an_unknown_anonymous_id_creates_an_anonymous_profile() -> None:
    resolution = resolve(tracked("page", anonymousId="a1"))
    profile = profile_of(resolution, "anon", "a1")
    assert profile.profile_id == new_profile_id(IdentityRef(kind="anon", value="a1"))
    assert not profile.is_known
    assert profile.identities == refs(("anon", "a1"))
    assert profile.first_seen == profile.last_seen == T0


def test_an_unknown_user_id_creates_a_known_profile() -> None:
    profile = profile_of(resolve(tracked("track", userId="u1", event="Logged In")), "user", "u1")
    assert profile.is_known
    assert profile.user_id == "u1"
    assert profile.profile_id == new_profile_id(IdentityRef(kind="user", value="u1"))


def test_identify_makes_the_anonymous_profile_known() -> None:
    resolution = resolve(
        tracked("page", anonymousId="a1", at=T0),
        tracked("identify", anonymousId="a1", userId="u1", traits={"name": "Jane"}, at=T0 + timedelta(1)),
    )
    assert len(resolution.profiles) == 1
    profile = profile_of(resolution, "user", "u1")
    assert profile.profile_id == new_profile_id(IdentityRef(kind="anon", value="a1"))
    assert profile.identities == refs(("anon", "a1"), ("user", "u1"))
    assert (profile.user_id, profile.traits) == ("u1", {"name": "Jane"})
    assert resolution.merges == []


def test_identify_merges_the_anonymous_profile_into_the_known_one() -> None:
    earlier = resolve(
        tracked(
            "identify", userId="u1", anonymousId="laptop", traits={"plan": "free", "name": "Jane"}, at=T0
        ),
    )
    resolution = resolve(
        tracked("page", anonymousId="phone", context={"traits": {"plan": "pro"}}, at=T0 + timedelta(hours=1)),
        tracked("identify", userId="u1", anonymousId="phone", at=T0 + timedelta(hours=2)),
        base=stored_after(earlier),
    )
    known = profile_of(resolution, "user", "u1")
    phone = resolution.profiles[new_profile_id(IdentityRef(kind="anon", value="phone"))]
    assert profile_of(resolution, "anon", "phone") is known
    assert phone.merged_into == known.profile_id
    assert phone.identities == refs(("anon", "phone"))  # kept as history
    assert known.identities == refs(("anon", "laptop"), ("anon", "phone"), ("user", "u1"))
    assert known.traits == {"plan": "pro", "name": "Jane"}  # the phone's newer plan wins
    assert (known.first_seen, known.last_seen) == (T0, T0 + timedelta(hours=2))
    [merge] = resolution.merges
    assert (merge.survivor_id, merge.absorbed_id, merge.event.type) == (
        known.profile_id,
        phone.profile_id,
        "identify",
    )
    assert merge.identities == (IdentityRef(kind="anon", value="phone"),)


def test_alias_attaches_the_previous_anonymous_id() -> None:
    resolution = resolve(
        tracked("track", anonymousId="a1", event="Viewed Pricing"),
        tracked("alias", previousId="a1", userId="u1", at=T0 + timedelta(minutes=1)),
    )
    assert len(resolution.profiles) == 1
    profile = profile_of(resolution, "user", "u1")
    assert profile.identities == refs(("anon", "a1"), ("user", "u1"))


def test_alias_merges_the_previous_anonymous_profile_into_an_existing_user() -> None:
    resolution = resolve(
        tracked("identify", userId="u1"),
        tracked("page", anonymousId="a1"),
        tracked("alias", previousId="a1", userId="u1"),
    )
    assert [(m.survivor_id, m.absorbed_id) for m in resolution.merges] == [
        (
            new_profile_id(IdentityRef(kind="user", value="u1")),
            new_profile_id(IdentityRef(kind="anon", value="a1")),
        )
    ]


def test_alias_renames_a_user() -> None:
    resolution = resolve(
        tracked("identify", userId="old-id", at=T0),
        tracked("alias", previousId="old-id", userId="new-id", at=T0 + timedelta(minutes=1)),
    )
    profile = profile_of(resolution, "user", "new-id")
    assert profile is profile_of(resolution, "user", "old-id")
    assert profile.user_id == "new-id"
    assert profile.identities == refs(("user", "new-id"), ("user", "old-id"))


# --- email --------------------------------------------------------------------------------------------
def test_a_form_email_makes_the_anonymous_profile_known() -> None:
    form = tracked(
        "track", anonymousId="a1", event="Form Submitted", context={"traits": {"email": " Jane@Example.COM"}}
    )
    profile = profile_of(resolve(form), "anon", "a1")
    assert profile.is_known
    assert profile.email == "jane@example.com"
    assert profile.identities == refs(("anon", "a1"), ("email", "jane@example.com"))


def test_a_form_email_of_a_known_person_merges_the_visitor_into_them() -> None:
    resolution = resolve(
        tracked("identify", userId="u1", traits={"email": "jane@example.com"}),
        tracked("page", anonymousId="a2", at=T0 + timedelta(days=3)),
        tracked(
            "track",
            anonymousId="a2",
            event="Form Submitted",
            context={"traits": {"email": "JANE@example.com"}},
        ),
    )
    known = profile_of(resolution, "user", "u1")
    assert profile_of(resolution, "anon", "a2") is known
    assert [m.absorbed_id for m in resolution.merges] == [
        new_profile_id(IdentityRef(kind="anon", value="a2"))
    ]
    assert known.last_seen == T0 + timedelta(days=3)


def test_a_later_user_id_joins_the_profile_known_by_email() -> None:
    resolution = resolve(
        tracked(
            "track", anonymousId="a1", event="Form Submitted", context={"traits": {"email": "jo@example.com"}}
        ),
        tracked("identify", userId="u1", anonymousId="other-device", traits={"email": "jo@example.com"}),
    )
    profile = profile_of(resolution, "user", "u1")
    assert profile.profile_id == new_profile_id(IdentityRef(kind="anon", value="a1"))
    assert profile.identities == refs(
        ("anon", "a1"), ("anon", "other-device"), ("email", "jo@example.com"), ("user", "u1")
    )
    assert len([p for p in resolution.profiles.values() if p.merged_into is None]) == 1


# --- two known profiles -------------------------------------------------------------------------------
def test_two_known_profiles_are_never_merged() -> None:
    resolution = resolve(
        tracked("identify", userId="u1", traits={"email": "one@example.com"}, at=T0),
        tracked("identify", userId="u2", traits={"email": "two@example.com"}, at=T0),
        tracked("identify", userId="u1", traits={"email": "two@example.com"}, at=T0 + timedelta(1)),
    )
    one, two = profile_of(resolution, "user", "u1"), profile_of(resolution, "user", "u2")
    assert one is not two
    assert profile_of(resolution, "email", "two@example.com") is two
    assert resolution.merges == []
    [conflict] = resolution.conflicts
    assert (conflict.attributed_to, conflict.other_profile) == (one.profile_id, two.profile_id)
    assert conflict.identity == IdentityRef(kind="email", value="two@example.com")
    # The event is the first profile's: it told us that trait, but the email identity stays with its owner.
    assert one.traits["email"] == "two@example.com"
    assert one.email == "one@example.com"


def test_another_user_on_the_same_browser_gets_a_profile_of_their_own() -> None:
    resolution = resolve(
        tracked("identify", userId="u1", anonymousId="shared-pc"),
        tracked("identify", userId="u2", anonymousId="shared-pc", traits={"name": "Bob"}),
    )
    first, second = profile_of(resolution, "user", "u1"), profile_of(resolution, "user", "u2")
    assert first is not second
    assert profile_of(resolution, "anon", "shared-pc") is first
    assert second.traits == {"name": "Bob"}
    assert second.profile_id == new_profile_id(IdentityRef(kind="user", value="u2"))
    assert [c.identity for c in resolution.conflicts] == [IdentityRef(kind="anon", value="shared-pc")]


# --- traits and time ----------------------------------------------------------------------------------
def test_traits_are_newest_wins_by_corrected_time_whatever_the_device_clock() -> None:
    # The phone's clock is 3 h fast: it claims 15:00 for something that happened at 12:00 (sent 1 s later).
    fast = T0 + timedelta(hours=3)
    stale = tracked(
        "identify",
        userId="u1",
        traits={"plan": "free", "title": "CTO"},
        at=fast,
        sent=fast + timedelta(seconds=1),
        received=T0 + timedelta(seconds=1),
    )
    fresh = tracked("identify", userId="u1", traits={"plan": "pro"}, at=T0 + timedelta(minutes=5))
    for events in ([stale, fresh], [fresh, stale], [fresh, stale, fresh, stale]):
        profile = profile_of(resolve(*events), "user", "u1")
        assert profile.traits == {"plan": "pro", "title": "CTO"}
        assert profile.first_seen == T0
        assert profile.last_seen == T0 + timedelta(minutes=5)


def test_trait_ties_are_broken_by_received_at_then_message_id() -> None:
    def named(name: str, received: datetime, message_id: str) -> TrackedEvent:
        return tracked(
            "identify", userId="u1", traits={"name": name}, received=received, message_id=message_id
        )

    later_received = named("B", T0 + timedelta(seconds=2), "m-a")
    earlier_received = named("A", T0 + timedelta(seconds=1), "m-z")
    same_received = named("C", T0 + timedelta(seconds=2), "m-b")
    for events in itertools.permutations([later_received, earlier_received, same_received]):
        assert profile_of(resolve(*events), "user", "u1").traits == {"name": "C"}


def test_numbers_are_kept_as_dynamodb_gives_them_back() -> None:
    assert storable({"price": 9.5, "n": 3, "deep": [0.1, {"x": 1e300}]}) == {
        "price": Decimal("9.5"),
        "n": Decimal(3),
        "deep": [Decimal("0.1"), {"x": "1E+300"}],
    }
    assert storable(float("nan")) == "nan"
    assert storable({"": 1, "ok": True}) == {"ok": True}


# --- attribution --------------------------------------------------------------------------------------
def _page(at: datetime, **page: str) -> TrackedEvent:
    return tracked("page", anonymousId="a1", at=at, context={"page": page})


def test_first_and_last_touch() -> None:
    ad = _page(T0, url="https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=spring")
    blog = _page(
        T0 + timedelta(days=1), url="https://shop.example.com/pricing", referrer="https://blog.example.org/x"
    )
    inside = _page(
        T0 + timedelta(days=2), url="https://shop.example.com/a", referrer="https://www.shop.example.com/"
    )
    plain = _page(T0 + timedelta(days=3), url="https://shop.example.com/b")
    for events in ([ad, blog, inside, plain], [plain, inside, blog, ad]):
        profile = profile_of(resolve(*events), "anon", "a1")
        assert profile.first_touch is not None
        assert profile.last_touch is not None
        assert (profile.first_touch.source, profile.first_touch.medium, profile.first_touch.campaign) == (
            "google",
            "cpc",
            "spring",
        )
        assert profile.first_touch.at == T0
        assert profile.last_touch.referrer == "https://blog.example.org/x"
        assert profile.last_touch.source is None


def test_context_campaign_wins_over_url_parameters() -> None:
    event = tracked(
        "track",
        anonymousId="a1",
        event="Clicked",
        context={"campaign": {"name": "launch", "source": "newsletter"}},
        properties={"url": "https://x.example/?utm_source=ignored&utm_term=crm&utm_content=hero"},
    )
    touch = touch_of(event)
    assert touch is not None
    assert (touch.campaign, touch.source, touch.term, touch.content) == (
        "launch",
        "newsletter",
        "crm",
        "hero",
    )


def test_an_event_without_utm_or_external_referrer_has_no_touch() -> None:
    assert touch_of(_page(T0, url="https://a.example/x", referrer="https://a.example/")) is None
    assert touch_of(tracked("identify", userId="u1")) is None


# --- what gets written --------------------------------------------------------------------------------
def test_one_write_per_live_profile_with_absorbed_profiles_inside_the_survivors() -> None:
    resolution = resolve(
        tracked("identify", userId="u1"),
        tracked("page", anonymousId="a1"),
        tracked("page", anonymousId="a1"),
        tracked("identify", userId="u1", anonymousId="a1"),
        tracked("page", anonymousId="a2"),
    )
    writes = {write.profile.profile_id: write for write in resolution.writes()}
    u1 = new_profile_id(IdentityRef(kind="user", value="u1"))
    a1 = new_profile_id(IdentityRef(kind="anon", value="a1"))
    a2 = new_profile_id(IdentityRef(kind="anon", value="a2"))
    assert set(writes) == {u1, a2}
    survivor: ProfileWrite = writes[u1]
    assert survivor.expected_version == 0
    assert survivor.profile.version == 1
    assert [(p.profile_id, p.merged_into, expected) for p, expected in survivor.absorbed] == [(a1, u1, 0)]
    assert [m.absorbed_id for m in survivor.merges] == [a1]
    # The identity a profile was founded on comes first; a1 was claimed in this batch, so it is a claim.
    assert [(str(w.identity), w.previous_owner) for w in survivor.identities] == [
        ("user:u1", None),
        ("anon:a1", None),
    ]


def test_a_replayed_batch_writes_nothing() -> None:
    events = [
        tracked("page", anonymousId="a1", context={"page": {"url": "https://x.example/?utm_source=ads"}}),
        tracked("identify", userId="u1", anonymousId="a1", traits={"name": "Jane", "score": 1.5}),
        tracked("identify", userId="u1", anonymousId="a2"),
        tracked("page", anonymousId="a3"),
        tracked("alias", previousId="a3", userId="u1"),
    ]
    first = resolve(*events)
    assert first.writes()
    replay = resolve(*events, base=stored_after(first))
    assert replay.writes() == []
    assert replay.merges == []


def test_moving_a_stored_identity_is_conditioned_on_its_previous_owner() -> None:
    first = resolve(tracked("identify", userId="u1"), tracked("page", anonymousId="a1"))
    second = resolve(tracked("identify", userId="u1", anonymousId="a1"), base=stored_after(first))
    [write] = second.writes()
    a1 = new_profile_id(IdentityRef(kind="anon", value="a1"))
    assert [(str(w.identity), w.previous_owner) for w in write.identities] == [("anon:a1", a1)]
    assert [(p.profile_id, p.version, expected) for p, expected in write.absorbed] == [(a1, 2, 1)]
    assert (write.profile.version, write.expected_version) == (2, 1)


@pytest.mark.parametrize("kind", ["track", "page"])
def test_the_event_is_attributed_to_its_profile(kind: str) -> None:
    event = tracked(kind, anonymousId="a1", event="Clicked" if kind == "track" else None)
    resolution = resolve(event)
    assert resolution.attributed == {
        ("src", event.message_id): new_profile_id(IdentityRef(kind="anon", value="a1"))
    }


def test_an_identity_read_just_before_its_profile_was_merged_away_is_read_again() -> None:
    # Another batch merged the profile between our identity read and our profile read.
    a1 = IdentityRef(kind="anon", value="a1")
    stale = Profile(profile_id="p-anon", version=2, identities=[a1], merged_into="p-known")
    resolution = BatchResolution({a1: "p-anon"}, {"p-anon": stale})
    with pytest.raises(StaleRead):
        resolution.apply(tracked("page", anonymousId="a1"))

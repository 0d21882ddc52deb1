"""Properties of resolution under at-least-once delivery, against an in-memory ProfileStore (no AWS).

tests/integration/test_scoring_identity.py checks the same properties through the handler on DynamoDB.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leadstream.events import SegmentMessage, TrackedEvent
from leadstream.profiles import IdentityRef, Profile, ProfileWrite
from scoring.identity import BatchResolution, resolve_events

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ANONS = ["a1", "a2", "a3"]
USERS = ["u1", "u2"]
EMAILS = ["one@example.com", "two@example.com"]


class InMemoryStore:
    """The ProfileStore contract (conditional writes included) over dictionaries."""

    def __init__(self) -> None:
        self.owners: dict[IdentityRef, str] = {}
        self.items: dict[str, Profile] = {}
        self.merges: dict[tuple[str, str], str] = {}

    def identity_owners(self, identities: Collection[IdentityRef]) -> dict[IdentityRef, str]:
        return {ref: self.owners[ref] for ref in identities if ref in self.owners}

    def profiles(self, profile_ids: Collection[str]) -> dict[str, Profile]:
        return {pid: self.items[pid].model_copy(deep=True) for pid in profile_ids if pid in self.items}

    def write(self, writes: Sequence[ProfileWrite]) -> list[str]:
        lost = []
        for write in writes:
            profiles = [(write.profile, write.expected_version), *write.absorbed]
            holds = all(self._version(p.profile_id) == expected for p, expected in profiles) and all(
                self.owners.get(claim.identity) == claim.previous_owner for claim in write.identities
            )
            if not holds:
                lost.append(write.profile.profile_id)
                continue
            for profile, _ in profiles:
                self.items[profile.profile_id] = profile.model_copy(deep=True)
            for claim in write.identities:
                self.owners[claim.identity] = claim.profile_id
            for merge in write.merges:
                self.merges[(merge.survivor_id, merge.absorbed_id)] = merge.event.message_id
        return lost

    def _version(self, profile_id: str) -> int:
        stored = self.items.get(profile_id)
        return stored.version if stored else 0

    def snapshot(self) -> dict[str, Any]:
        """Everything stored, except the version counters (they count writes, which batching changes)."""
        return {
            "profiles": {pid: p.model_dump(exclude={"version"}) for pid, p in self.items.items()},
            "owners": dict(self.owners),
            "merges": dict(self.merges),
        }


# --- strategies ---------------------------------------------------------------------------------------
@st.composite
def messages(draw: st.DrawFn, one_browser: bool = False) -> dict[str, Any]:
    """Any of ANONS and USERS; with `one_browser`, only browser a1, before and after u1 signs in on it."""
    kind = draw(st.sampled_from(["page", "track", "identify", *([] if one_browser else ["alias"])]))
    message: dict[str, Any] = {"type": kind}
    if kind == "alias":
        message["previousId"] = draw(st.sampled_from(ANONS + USERS))
        message["userId"] = draw(st.sampled_from(USERS))
    elif one_browser:
        message["anonymousId"] = "a1"
        if draw(st.booleans()):
            message["userId"] = "u1"
    else:
        user = draw(st.none() | st.sampled_from(USERS))
        anon = draw(st.sampled_from(ANONS) if user is None else st.none() | st.sampled_from(ANONS))
        message.update({key: value for key, value in (("userId", user), ("anonymousId", anon)) if value})
    traits = draw(st.dictionaries(st.sampled_from(["plan", "name", "email"]), st.integers(0, 3), max_size=2))
    if "email" in traits:
        traits["email"] = EMAILS[traits["email"] % 2]
    if kind == "identify":
        message["traits"] = traits
    elif traits:
        message["context"] = {"traits": traits}
    if kind == "track":
        message["event"] = "Clicked"
    source = draw(st.none() | st.sampled_from(["ads", "newsletter"]))
    if source:
        message.setdefault("context", {})["page"] = {"url": f"https://x.example/?utm_source={source}"}
    return message


@st.composite
def event_sequences(draw: st.DrawFn, max_size: int = 12, one_browser: bool = False) -> list[TrackedEvent]:
    """Events in stream order; device clocks are off, so timestamps are not in that order."""
    raws = draw(st.lists(messages(one_browser), min_size=1, max_size=max_size))
    events = []
    for index, raw in enumerate(raws):
        received = T0 + timedelta(seconds=10 * index)
        happened = received - timedelta(seconds=draw(st.integers(0, 60)))
        skew = timedelta(hours=draw(st.integers(-3, 3)))
        message = {
            **raw,
            "messageId": f"m{index}",
            "timestamp": (happened + skew).isoformat(),
            "sentAt": (received + skew).isoformat(),
        }
        events.append(SegmentMessage.model_validate(message).to_tracked("src", received))
    return events


@st.composite
def deliveries(draw: st.DrawFn, events: list[TrackedEvent]) -> list[list[TrackedEvent]]:
    """The sequence cut into batches, as a stream delivers it at least once: a batch may start again
    before the previous one ended (a retry after a partial failure), and a record may come twice."""
    cuts = sorted(draw(st.sets(st.integers(1, len(events) - 1), max_size=4))) if len(events) > 1 else []
    bounds = [0, *cuts, len(events)]
    batches = []
    for start, end in itertools.pairwise(bounds):
        batch = events[max(0, start - draw(st.integers(0, 3))) : end]
        if draw(st.booleans()):
            batch = [*batch, draw(st.sampled_from(batch))]
        batches.append(batch)
    if draw(st.booleans()):
        batches.append(events[draw(st.integers(0, len(events) - 1)) :])  # a whole retried tail, much later
    return batches


def stored_after(batches: list[list[TrackedEvent]]) -> dict[str, Any]:
    store = InMemoryStore()
    for batch in batches:
        resolve_events(batch, store)
    return store.snapshot()


# --- properties ---------------------------------------------------------------------------------------
@settings(max_examples=300)
@given(st.data())
def test_any_split_and_redelivery_stores_the_same_profiles(data: st.DataObject) -> None:
    events = data.draw(event_sequences())
    expected = stored_after([events])
    assert stored_after(data.draw(deliveries(events))) == expected
    assert stored_after([[event] for event in events]) == expected


@settings(max_examples=200)
@given(st.data())
def test_one_persons_events_in_any_order_or_twice_give_the_same_profile(data: st.DataObject) -> None:
    # Events of one browser, before and after identifying: whatever order they arrive in, and however
    # often, the profile's traits, first/last seen and first/last touch are the same.
    events = data.draw(event_sequences(one_browser=True))
    shuffled = data.draw(st.permutations(events))
    repeated = shuffled + data.draw(st.lists(st.sampled_from(events), max_size=3))

    def profile(sequence: Sequence[TrackedEvent]) -> dict[str, Any]:
        resolution = BatchResolution({}, {})
        for event in sequence:
            resolution.apply(event)
        owner = resolution.owners.get(IdentityRef(kind="anon", value="a1"))
        return resolution.profiles[owner].model_dump(exclude={"profile_id"}) if owner else {}

    assert profile(shuffled) == profile(events)
    assert profile(repeated) == profile(events)


def test_a_lost_race_is_read_again_and_converges() -> None:
    """Another batch claims the same new user between our read and our write: we re-read and join it."""
    store = InMemoryStore()
    mine = SegmentMessage.model_validate(
        {
            "type": "identify",
            "userId": "u1",
            "anonymousId": "a1",
            "traits": {"plan": "pro"},
            "messageId": "m1",
        }
    ).to_tracked("src", T0)
    theirs = SegmentMessage.model_validate(
        {"type": "identify", "userId": "u1", "anonymousId": "a2", "traits": {"name": "Jo"}, "messageId": "m2"}
    ).to_tracked("src", T0)

    class RacingStore(InMemoryStore):
        raced = False

        def write(self, writes: Sequence[ProfileWrite]) -> list[str]:
            if not self.raced:
                self.raced = True
                resolve_events([theirs], store)
            return store.write(writes)

        def identity_owners(self, identities: Collection[IdentityRef]) -> dict[IdentityRef, str]:
            return store.identity_owners(identities)

        def profiles(self, profile_ids: Collection[str]) -> dict[str, Profile]:
            return store.profiles(profile_ids)

    outcome = resolve_events([mine], RacingStore())
    assert outcome.attempts == 2
    live = [p for p in store.items.values() if p.merged_into is None]
    assert len(live) == 1
    assert live[0].traits == {"plan": "pro", "name": "Jo"}
    assert {str(ref) for ref in live[0].identities} == {"user:u1", "anon:a1", "anon:a2"}

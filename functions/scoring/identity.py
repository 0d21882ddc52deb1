"""Identity resolution: every event resolves to a profile. Pure logic over plain models; no AWS here.

A stream batch is resolved in memory (`BatchResolution`): the identities and profiles it touches are read
first, every event is applied in stream order, and what changed comes out as one `ProfileWrite` per
profile. `resolve_events` runs that against a `ProfileStore` with optimistic concurrency: on a conflict it
reads again and re-applies the whole batch, which is safe because applying an event is idempotent.
docs/identity.md states the rules.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from leadstream.consents import consents_of, event_source
from leadstream.events import TrackedEvent
from leadstream.profiles import (
    IdentityRef,
    IdentityWrite,
    MergeRecord,
    Profile,
    ProfileWrite,
    event_stamp,
    iso_utc,
    location_of,
)
from scoring.attribution import touch_of
from scoring.external_ids import external_identities

# Profile ids are uuid5 of the identity that founded the profile: a retry, or a second batch racing this
# one, derives the same id for the same person instead of creating a twin.
PROFILE_NAMESPACE = uuid.UUID("6f1c1f8e-3f0a-5c4e-9a55-2b7f3c1d9e10")
MAX_ATTEMPTS = 5
# The trait that holds the group id of a person's latest Segment `group` call.
GROUP_TRAIT = "groupId"


def new_profile_id(founder: IdentityRef) -> str:
    return str(uuid.uuid5(PROFILE_NAMESPACE, str(founder)))


# An erased person's profile keeps its id (its counts and stage stay in the reports), but its identities
# are gone: an identity that founded it and comes back (the same browser, the address signing up again)
# founds a new profile, whose id follows on from the erased one's. At most this many erasures in a row.
MAX_ERASED_FOUNDINGS = 4


def successor_profile_id(founder: IdentityRef, erased_profile_id: str) -> str:
    """The id a returning identity founds a profile with after the profile it founded was erased."""
    return str(uuid.uuid5(PROFILE_NAMESPACE, f"{founder}#after:{erased_profile_id}"))


def founding_profile_id(founder: IdentityRef, profiles: Mapping[str, Profile]) -> str:
    """The id a profile founded by `founder` gets: its uuid5, or past the erased profiles it founded before
    (those of them in `profiles`)."""
    profile_id = new_profile_id(founder)
    for _ in range(MAX_ERASED_FOUNDINGS):
        erased = profiles.get(profile_id)
        if erased is None or erased.erased_at is None:
            break
        profile_id = successor_profile_id(founder, profile_id)
    return profile_id


def founded_profiles(
    founders: Collection[IdentityRef], load: Callable[[set[str]], Mapping[str, Profile]]
) -> dict[str, Profile]:
    """The stored profiles these identities founded or would found (following erased ones): read when a
    new profile's write found its id taken, which only an erased profile's id does for good."""
    found: dict[str, Profile] = {}
    wanted = {new_profile_id(ref): ref for ref in founders}
    for _ in range(MAX_ERASED_FOUNDINGS):
        if not wanted:
            break
        loaded = load(set(wanted))
        found |= loaded
        wanted = {
            successor_profile_id(ref, pid): ref
            for pid, ref in wanted.items()
            if pid in loaded and loaded[pid].erased_at is not None
        }
    return found


def event_identities(event: TrackedEvent) -> list[IdentityRef]:
    """Identities to look up for an event. An alias's previousId may be a user id or an anonymous id."""
    refs = []
    if event.user_id:
        refs.append(IdentityRef(kind="user", value=event.user_id))
    if event.email:
        refs.append(IdentityRef(kind="email", value=event.email))
    refs.extend(externals_of(event))
    if event.anonymous_id:
        refs.append(IdentityRef(kind="anon", value=event.anonymous_id))
    if event.previous_id:
        refs.append(IdentityRef(kind="user", value=event.previous_id))
        refs.append(IdentityRef(kind="anon", value=event.previous_id))
    return refs


def externals_of(event: TrackedEvent) -> list[IdentityRef]:
    """The event's accounts in other systems (`context.externalIds`, CRM and social traits): known
    identities, resolved like an email (scoring.external_ids)."""
    return external_identities(event.context, event.all_traits)


def batch_identities(events: Iterable[TrackedEvent]) -> set[IdentityRef]:
    return {ref for event in events for ref in event_identities(event)}


@dataclass(frozen=True)
class IdentityConflict:
    """An event linked identities of two known profiles; they are not merged automatically."""

    event: TrackedEvent
    identity: IdentityRef
    attributed_to: str  # the profile that got the event
    other_profile: str  # the known profile that keeps `identity`


# Called for every applied event with its profile; it may change the profile (scores, tags, stage) and
# must depend only on the profile and the event, so that re-applying a batch gives the same result.
type EventHook = Callable[[Profile, TrackedEvent], None]


class StaleRead(Exception):
    """An identity pointed at a profile that was merged away between our two reads: read again."""


class BatchResolution:
    """The batch's view of identities and profiles, to which events are applied one by one."""

    def __init__(
        self,
        owners: Mapping[IdentityRef, str],
        profiles: Mapping[str, Profile],
        on_event: EventHook | None = None,
    ) -> None:
        self._on_event = on_event
        self._loaded_owners = dict(owners)
        self._loaded = {pid: profile.model_copy(deep=True) for pid, profile in profiles.items()}
        self.owners = dict(owners)
        self.profiles = {pid: profile.model_copy(deep=True) for pid, profile in profiles.items()}
        self.created: list[str] = []
        self.merges: list[MergeRecord] = []
        self.conflicts: list[IdentityConflict] = []
        # (sourceId, messageId) -> the profile the event was attributed to.
        self.attributed: dict[tuple[str, str], str] = {}

    # --- applying events -----------------------------------------------------------------------
    def apply(self, event: TrackedEvent) -> Profile:
        stamp = event_stamp(event)
        target = self._target(event)
        self._link(event, target)
        if event.user_id and self._owner(IdentityRef(kind="user", value=event.user_id)) == target.profile_id:
            target.set_user_id(event.user_id, stamp)
        if event.email and self._owner(IdentityRef(kind="email", value=event.email)) == target.profile_id:
            target.set_email(event.email, stamp)
        target.observe(stamp, event.timestamp, event.all_traits, touch_of(event))
        if event.type == "group" and event.group_id:
            # The account the person acts for (Segment `group`): kept as a trait, newest wins, so the
            # closed loop can roll the person up to that account (docs/closed-loop.md).
            target.observe(stamp, event.timestamp, {GROUP_TRAIT: event.group_id})
        target.locate(location_of(event.context, stamp))
        found = consents_of(
            event.context,
            stamp=stamp,
            at=iso_utc(event.timestamp),
            source=event_source(event.context, event.type),
            message_id=event.message_id,
        )
        for purpose, consent in found.items():
            target.consent(purpose, consent)
        self.attributed[(event.source_id, event.message_id)] = target.profile_id
        if self._on_event is not None:
            self._on_event(target, event)  # scoring: the profile as it stands right after this event
        return target

    def _target(self, event: TrackedEvent) -> Profile:
        """The profile the event belongs to: that of its userId, else of its email, else of its anonymous ids.

        An unknown userId joins the profile of the event's other identities, unless that profile already
        has a different userId (another person on the same browser): then it gets a profile of its own.
        An alias says outright that previousId and userId are one person, so there the userId always joins.
        """
        user = IdentityRef(kind="user", value=event.user_id) if event.user_id else None
        email = IdentityRef(kind="email", value=event.email) if event.email else None
        weak = [ref for ref in (self._previous(event), self._anonymous(event)) if ref is not None]
        if user is not None and (owner := self._owner(user)) is not None:
            return self._profile(owner)
        externals = externals_of(event)
        others = [ref for ref in (email, *externals, *weak) if ref is not None]
        candidate = next((owner for ref in others if (owner := self._owner(ref)) is not None), None)
        if candidate is not None:
            profile = self._profile(candidate)
            if user is None or event.type == "alias" or not profile.has_user_id:
                return profile
            return self._create(user)
        # Nothing known yet: found the profile on the anonymous id if there is one, so that the profile an
        # anonymous visitor started keeps its id once they identify, whichever batch each event was in.
        founder = next(iter([*weak, *(ref for ref in (user, email) if ref is not None), *externals]))
        return self._create(founder)

    def _link(self, event: TrackedEvent, target: Profile) -> None:
        """Attach the event's other identities to the target: claim new ones, absorb anonymous profiles."""
        refs = [
            ref
            for ref in (
                IdentityRef(kind="user", value=event.user_id) if event.user_id else None,
                IdentityRef(kind="email", value=event.email) if event.email else None,
                *externals_of(event),
                self._previous(event),
                self._anonymous(event),
            )
            if ref is not None
        ]
        for ref in refs:
            owner = self._owner(ref)
            if owner is None:
                self._claim(ref, target)
            elif owner != target.profile_id:
                other = self._profile(owner)
                if other.is_known:
                    self.conflicts.append(IdentityConflict(event, ref, target.profile_id, owner))
                else:
                    self._absorb(target, other, event)

    def _previous(self, event: TrackedEvent) -> IdentityRef | None:
        if not event.previous_id:
            return None
        as_user = IdentityRef(kind="user", value=event.previous_id)
        return as_user if as_user in self.owners else IdentityRef(kind="anon", value=event.previous_id)

    @staticmethod
    def _anonymous(event: TrackedEvent) -> IdentityRef | None:
        return IdentityRef(kind="anon", value=event.anonymous_id) if event.anonymous_id else None

    def _owner(self, ref: IdentityRef) -> str | None:
        return self.owners.get(ref)

    def _profile(self, profile_id: str) -> Profile:
        profile = self.profiles.get(profile_id)
        if profile is None:
            # An identity whose profile item is missing: start that profile again, not stall the stream.
            profile = self.profiles[profile_id] = Profile(profile_id=profile_id)
        if profile.merged_into is not None:
            raise StaleRead(f"profile {profile_id} was merged into {profile.merged_into} meanwhile")
        return profile

    def _create(self, founder: IdentityRef) -> Profile:
        profile = self._profile(founding_profile_id(founder, self.profiles))
        self.created.append(profile.profile_id)
        self._claim(founder, profile)
        return profile

    def _claim(self, ref: IdentityRef, profile: Profile) -> None:
        self.owners[ref] = profile.profile_id
        profile.add_identity(ref)

    def _absorb(self, survivor: Profile, absorbed: Profile, event: TrackedEvent) -> None:
        survivor.absorb(absorbed)
        moved = tuple(ref for ref in absorbed.identities if self.owners.get(ref) == absorbed.profile_id)
        for ref in moved:
            self.owners[ref] = survivor.profile_id
        absorbed.merged_into = survivor.profile_id
        self.merges.append(MergeRecord(survivor.profile_id, absorbed.profile_id, event, moved))

    # --- what to write -------------------------------------------------------------------------
    def writes(self) -> list[ProfileWrite]:
        """One ProfileWrite per live profile with anything to store; nothing at all for a replayed batch."""
        groups: dict[str, ProfileWrite] = {}

        def group(profile_id: str) -> ProfileWrite:
            if profile_id not in groups:
                profile = self.profiles[profile_id]
                expected = profile.version
                groups[profile_id] = ProfileWrite(
                    profile.model_copy(update={"version": expected + 1}), expected
                )
                self._note_loaded(groups[profile_id], profile_id)
            return groups[profile_id]

        for profile_id, profile in self.profiles.items():
            if profile == self._loaded.get(profile_id):
                continue
            if profile.merged_into is None:
                group(profile_id)
            else:
                bumped = profile.model_copy(update={"version": profile.version + 1})
                group(profile.merged_into).absorbed.append((bumped, profile.version))
                self._note_loaded(group(profile.merged_into), profile_id)
        for ref, owner in self.owners.items():
            previous = self._loaded_owners.get(ref)
            if previous != owner:
                group(owner).identities.append(IdentityWrite(ref, owner, previous))
        for merge in self.merges:
            group(merge.survivor_id).merges.append(merge)
        for write in groups.values():
            # The identity a new profile was founded on goes first: a write split across transactions
            # (rare, see store.profiles) then never leaves a profile that no identity points to.
            pid = write.profile.profile_id
            write.identities.sort(
                key=lambda claim: (new_profile_id(claim.identity) != pid, str(claim.identity))
            )
        return list(groups.values())

    def _note_loaded(self, write: ProfileWrite, profile_id: str) -> None:
        loaded = self._loaded.get(profile_id)
        if loaded is not None:
            write.loaded[profile_id] = loaded


# --- running a batch against storage -----------------------------------------------------------
class ProfileStore(Protocol):
    def identity_owners(self, identities: Collection[IdentityRef]) -> dict[IdentityRef, str]: ...

    def profiles(self, profile_ids: Collection[str]) -> dict[str, Profile]: ...

    def write(self, writes: Sequence[ProfileWrite]) -> list[str]:
        """Store each write atomically; return the ids of the profiles whose write lost a race."""
        ...


@dataclass(frozen=True)
class Outcome:
    resolution: BatchResolution
    writes: int  # profile writes stored (one transaction each)
    attempts: int


class ConcurrentUpdates(RuntimeError):
    """Other writers kept changing the same profiles; the stream retries the batch."""


def resolve_events(
    events: Sequence[TrackedEvent], store: ProfileStore, on_event: EventHook | None = None
) -> Outcome:
    """Resolve a batch and store the result: 2 reads, then at most one write per changed profile.

    A lost race (version or identity condition) means another batch changed a profile we read: read again
    and re-apply every event. Writes that already succeeded are not repeated, because re-applying the same
    events to what they stored changes nothing.
    """
    identities = batch_identities(events)
    written = 0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        owners = store.identity_owners(identities)
        profiles = dict(store.profiles(set(owners.values())))
        if attempt > 1:  # a new profile's id may be taken by an erased one it founded before
            unowned = [ref for ref in identities if ref not in owners]
            profiles |= {
                pid: profile
                for pid, profile in founded_profiles(unowned, store.profiles).items()
                if pid not in profiles
            }
        resolution = BatchResolution(owners, profiles, on_event)
        try:
            for event in events:
                resolution.apply(event)
        except StaleRead:
            _pause(attempt)
            continue
        writes = resolution.writes()
        lost = store.write(writes)
        written += len(writes) - len(lost)
        if not lost:
            return Outcome(resolution, written, attempt)
        _pause(attempt)
    raise ConcurrentUpdates(f"profiles kept changing under this batch after {MAX_ATTEMPTS} attempts")


def _pause(attempt: int) -> None:
    # Jittered so that two batches racing for the same profile do not retry in lockstep.
    time.sleep(random.uniform(0, 0.02 * 2**attempt))

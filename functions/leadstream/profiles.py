"""A profile: one person, as every part of Leadstream sees them.

Scoring builds profiles from tracking events (functions/scoring/identity.py); marketing and sales read
them. Everything a profile learns is merged with order-independent rules (newest wins per trait, earliest
first-seen, latest last-seen), so applying the same events in any order, or twice, gives the same profile.
docs/identity.md describes the rules and the stored items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, PlainSerializer

from leadstream.activity import activity_increases
from leadstream.activity import merge as merge_activity
from leadstream.consents import TOPIC_PREFIX, Consent, supersedes, topic_count
from leadstream.events import TrackedEvent
from leadstream.models import Model
from leadstream.numbers import as_decimal, to_dynamo, unstorable
from leadstream.scores import ScoreState, Stage, StageChange

# `ext`: an account in another system, `<type>:<id>` (scoring.external_ids: Salesforce, HubSpot, LinkedIn...).
IdentityKind = Literal["user", "anon", "email", "ext"]
# Kinds that name a person rather than a browser: a profile with one of these is known.
KNOWN_KINDS: frozenset[str] = frozenset({"user", "email", "ext"})


def iso_utc(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601 with microseconds: sorting the strings sorts the moments."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


UtcTime = Annotated[AwareDatetime, PlainSerializer(iso_utc, return_type=str)]


def event_stamp(event: TrackedEvent) -> str:
    """The event's stamp: a string that sorts events by when they happened (the corrected timestamp),
    ties broken by when we received them, then by message id. Newest-wins rules compare stamps."""
    return "|".join((iso_utc(event.timestamp), iso_utc(event.received_at), event.message_id, event.source_id))


class IdentityRef(Model):
    """One identity: a user id, an anonymous id, an email address (lower-cased), or an external account."""

    model_config = ConfigDict(frozen=True)

    kind: IdentityKind
    value: str

    @property
    def is_known(self) -> bool:
        return self.kind in KNOWN_KINDS

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Touch(Model):
    """Marketing attribution of one event: its UTM parameters and an external referrer."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    referrer: str | None = None
    url: str | None = None  # the page the touch landed on
    at: UtcTime
    message_id: str = Field(alias="messageId")
    stamp: str  # event_stamp of its event: touches compare exactly as events do


class Location(Model):
    """Where a person was last seen, from the IP address of their newest event that had one (tracking.geo)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    country: str | None = None
    region: str | None = None
    city: str | None = None
    time_zone: str | None = Field(default=None, alias="timeZone")
    stamp: str  # event_stamp of its event: newest wins


def location_of(context: Mapping[str, Any], stamp: str) -> Location | None:
    """The location tracking put on an event (`context.geo`), if any."""
    geo = context.get("geo")
    if not isinstance(geo, Mapping):
        return None
    fields = {
        name: value[:100]
        for name in ("country", "region", "city", "timeZone")
        if isinstance(value := geo.get(name), str) and value
    }
    return Location.model_validate({**fields, "stamp": stamp}) if fields else None


class Profile(Model):
    """A person. Stored as one item; `version` is bumped by every write (optimistic concurrency)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    profile_id: str = Field(alias="profileId", min_length=1)
    version: int = 0  # 0: not stored yet
    user_id: str | None = Field(default=None, alias="userId")
    user_id_stamp: str | None = Field(default=None, alias="userIdStamp")
    email: str | None = None
    email_stamp: str | None = Field(default=None, alias="emailStamp")
    identities: list[IdentityRef] = Field(default_factory=list)
    traits: dict[str, Any] = Field(default_factory=dict)
    # Per trait, the event_stamp of the event that set its current value.
    trait_stamps: dict[str, str] = Field(default_factory=dict, alias="traitStamps")
    first_seen: UtcTime | None = Field(default=None, alias="firstSeen")
    last_seen: UtcTime | None = Field(default=None, alias="lastSeen")
    first_touch: Touch | None = Field(default=None, alias="firstTouch")
    last_touch: Touch | None = Field(default=None, alias="lastTouch")
    # Set on an anonymous profile absorbed into a known one; it is kept for its history, never written again.
    merged_into: str | None = Field(default=None, alias="mergedInto")
    # Scoring (docs/scoring.md): interests, lifecycle stage and its history, scores and their bookkeeping.
    tags: list[str] = Field(default_factory=list)
    stage: Stage | None = None
    stage_history: list[StageChange] = Field(default_factory=list, alias="stageHistory")
    score: ScoreState = Field(default_factory=ScoreState)
    # Where the person was last seen (newest event with an address wins); its time zone serves journeys'
    # sending windows when the person has no `timezone` trait.
    location: Location | None = None
    # Behaviour counts per activity key and UTC day, kept by the Scorer (leadstream/activity.py).
    activity: dict[str, dict[str, int]] = Field(default_factory=dict)
    # The current consent per purpose (`tracking`, `email`, `topic:<id>`; leadstream.consents); each
    # change also leaves a history item (leadstream.store.consents).
    consents: dict[str, Consent] = Field(default_factory=dict)
    # Set when the person's personal data was erased (docs/customer-data.md, Erasure): the profile keeps
    # its id, stage, scores and counts for the reports, and no sync copies anything back onto it.
    erased_at: UtcTime | None = Field(default=None, alias="erasedAt")

    @property
    def is_known(self) -> bool:
        return any(identity.is_known for identity in self.identities)

    @property
    def has_user_id(self) -> bool:
        return any(identity.kind == "user" for identity in self.identities)

    def add_identity(self, identity: IdentityRef) -> None:
        if identity not in self.identities:
            self.identities = sorted([*self.identities, identity], key=str)

    def set_user_id(self, user_id: str, stamp: str) -> None:
        if self.user_id_stamp is None or stamp > self.user_id_stamp:
            self.user_id, self.user_id_stamp = user_id, stamp

    def set_email(self, email: str, stamp: str) -> None:
        if self.email_stamp is None or stamp > self.email_stamp:
            self.email, self.email_stamp = email, stamp

    def observe(
        self, stamp: str, at: datetime, traits: Mapping[str, Any], touch: Touch | None = None
    ) -> None:
        """Learn what one event tells: its traits (newest wins per trait), when, and its attribution."""
        for key, value in traits.items():
            if key:
                self._set_trait(key, storable(value), stamp)
        self._seen(at, at)
        if touch is not None:
            self._touched(touch, touch)

    def absorb(self, other: Profile) -> None:
        """Take everything `other` knows; the same rules as observe, so the result is order-independent."""
        if other.location is not None:
            self.locate(other.location)
        for purpose, consent in other.consents.items():
            self.consent(purpose, consent)
        for key, stamp in other.trait_stamps.items():
            self._set_trait(key, other.traits.get(key), stamp)
        if other.first_seen is not None and other.last_seen is not None:
            self._seen(other.first_seen, other.last_seen)
        if other.first_touch is not None and other.last_touch is not None:
            self._touched(other.first_touch, other.last_touch)
        if other.user_id is not None and other.user_id_stamp is not None:
            self.set_user_id(other.user_id, other.user_id_stamp)
        if other.email is not None and other.email_stamp is not None:
            self.set_email(other.email, other.email_stamp)
        for identity in other.identities:
            self.add_identity(identity)
        if other.profile_id not in self.score.absorbed:  # added once, like the scores just below
            self.activity = merge_activity(self.activity, other.activity)
        self.score.absorb(other.score, other.profile_id)
        self.tags = sorted({*self.tags, *other.tags})
        if other.stage is not None and other.stage.is_after(self.stage):
            self.move_to(other.stage, at=other.stage_changed_at or "", by="merge")

    def consent(self, purpose: str, consent: Consent) -> bool:
        """Take an observed consent if it changes the current one (newest wins); True when it did."""
        held = topic_count(self.consents) if purpose.startswith(TOPIC_PREFIX) else 0
        if not supersedes(consent, self.consents.get(purpose), topics_held=held):
            return False
        self.consents = {**self.consents, purpose: consent}
        return True

    def locate(self, location: Location | None) -> None:
        """Newest wins: keep the location of the newest event that had one."""
        if location is not None and (self.location is None or location.stamp > self.location.stamp):
            self.location = location

    def move_to(self, stage: Stage, *, at: str, by: str, reason: str | None = None) -> None:
        """Set the lifecycle stage and record the change (callers decide whether the move is allowed)."""
        if stage == self.stage:
            return
        self.stage_history = [
            *self.stage_history,
            StageChange(stage=stage, previous=self.stage, at=at, by=by, reason=reason),
        ]
        self.stage = stage

    @property
    def stage_changed_at(self) -> str | None:
        return self.stage_history[-1].at if self.stage_history else None

    def _set_trait(self, key: str, value: Any, stamp: str) -> None:
        current = self.trait_stamps.get(key)
        if current is None or stamp > current:
            self.traits[key] = value
            self.trait_stamps[key] = stamp

    def _seen(self, first: datetime, last: datetime) -> None:
        self.first_seen = first if self.first_seen is None else min(self.first_seen, first)
        self.last_seen = last if self.last_seen is None else max(self.last_seen, last)

    def _touched(self, first: Touch, last: Touch) -> None:
        if self.first_touch is None or first.stamp < self.first_touch.stamp:
            self.first_touch = first
        if self.last_touch is None or last.stamp > self.last_touch.stamp:
            self.last_touch = last

    def to_item(self) -> dict[str, Any]:
        """The stored attributes (keys excluded)."""
        return self.model_dump(by_alias=True, exclude_none=True)


def storable(value: Any) -> Any:
    """A trait value as DynamoDB stores it and gives it back, so a stored profile equals a recomputed one.

    Numbers become Decimals; numbers DynamoDB cannot hold (NaN, infinities, too many digits, out of range)
    are kept as text rather than failing the whole batch; empty map keys are dropped (DynamoDB names need
    at least one character).
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, int | float | Decimal):
        return _number(as_decimal(value))
    if isinstance(value, Mapping):
        return {str(key): storable(inner) for key, inner in value.items() if str(key)}
    if isinstance(value, list | tuple):
        return [storable(inner) for inner in value]
    return str(value)


def _number(number: Decimal) -> Decimal | str:
    if unstorable(number):
        return str(number)
    return Decimal(0) if number.is_zero() else to_dynamo(number)


# --- what a stream batch stores (built by scoring, written by leadstream.store.profiles) --------------
@dataclass(frozen=True)
class MergeRecord:
    """An anonymous profile absorbed into a known one, and the event that showed they are one person."""

    survivor_id: str
    absorbed_id: str
    event: TrackedEvent
    identities: tuple[IdentityRef, ...]  # the identities that moved to the survivor


@dataclass(frozen=True)
class IdentityWrite:
    identity: IdentityRef
    profile_id: str
    previous_owner: str | None  # None: a new identity, claimed only if nobody else claimed it meanwhile


@dataclass
class ProfileWrite:
    """Everything one TransactWriteItems stores for one live profile.

    `profile.version` is the new version; the write succeeds only if the stored version is still
    `expected_version` (0: the profile must not exist yet). Absorbed profiles are written with it, each with
    its own expected version.
    """

    profile: Profile
    expected_version: int
    identities: list[IdentityWrite] = field(default_factory=list)
    merges: list[MergeRecord] = field(default_factory=list)
    absorbed: list[tuple[Profile, int]] = field(default_factory=list)
    # Each written profile as it was read (absent: new): what changed beside the profile item itself
    # (tag memberships, a new handoff record) is derived from the difference.
    loaded: dict[str, Profile] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileChange:
    """One profile item write as the main table's stream shows it: before (None: new) and after (None:
    deleted). What the audience, journeys and conversions react to."""

    old: Profile | None
    new: Profile | None

    @property
    def profile_id(self) -> str:
        profile = self.new or self.old
        assert profile is not None
        return profile.profile_id

    def activity_increases(self) -> set[str]:
        """The activity keys whose count went up in this write: what the person did (none if deleted)."""
        if self.new is None:
            return set()
        return activity_increases(self.old.activity if self.old is not None else {}, self.new.activity)

    @classmethod
    def of_images(cls, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> ProfileChange:
        """From a stream record's old and new images (already deserialized)."""
        return cls(
            old=Profile.model_validate(old) if old else None,
            new=Profile.model_validate(new) if new else None,
        )

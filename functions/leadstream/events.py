"""The one definition of a tracking event: the Segment spec as clients send it, and the event as stored.

Tracking validates `SegmentMessage`s and stores `TrackedEvent`s; scoring reads `TrackedEvent`s back from
the events table stream. Nothing else defines what an event looks like.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from leadstream import keys
from leadstream.errors import InvalidInput
from leadstream.models import Model

EventType = Literal["identify", "track", "page", "screen", "group", "alias"]
EVENT_TYPES: frozenset[str] = frozenset(EventType.__args__)  # type: ignore[attr-defined]
# analytics-next posts to /v1/t, /v1/p ... to dodge ad blockers.
SHORT_TYPES: dict[str, str] = {name[0]: name for name in EVENT_TYPES}

MAX_EVENT_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500

# Values that broken integrations send instead of an id. Accepting one would merge strangers into one profile.
JUNK_IDS = frozenset({"", "null", "undefined", "anonymous", "0", "[object object]", "none", "nan"})
MAX_ID_LENGTH = 512
# Ids become part of DynamoDB keys (`identity` here, `IDENTITY#<kind>#<id>` in profiles), and a partition
# key holds 2,048 bytes: 512 characters of a 4-byte script would not fit.
MAX_ID_BYTES = 2000
# Before the Unix epoch is a device clock that was never set, not an event (every SDK's clock counts from
# it). The earliest time an event may have, after the correction of corrected_timestamp.
EARLIEST_EVENT_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def _coerce_id(value: object) -> object:
    if isinstance(value, bool):
        return value  # let pydantic reject it as not a string
    if isinstance(value, int | float):
        value = str(value)
    return value.strip() if isinstance(value, str) else value


def _refuse_junk(value: str) -> str:
    if value.lower() in JUNK_IDS:
        raise ValueError(f"{value!r} is not a usable id: omit the field or send a real id")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_ID_BYTES:
        raise ValueError(f"the id is {size} bytes in UTF-8; the limit is {MAX_ID_BYTES}")
    return value


Identity = Annotated[
    str, BeforeValidator(_coerce_id), AfterValidator(_refuse_junk), Field(max_length=MAX_ID_LENGTH)
]


def _assume_utc(value: datetime) -> datetime:
    """Clients often drop the zone; Segment reads such timestamps as UTC, and so do we."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _representable_in_utc(value: datetime) -> datetime:
    """0001-01-01T00:00:00+01:00 parses, but is in the year 0 in UTC, where no datetime goes."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time lies outside the years 1 to 9999 once converted to UTC") from None
    return value


Timestamp = Annotated[datetime, AfterValidator(_assume_utc), AfterValidator(_representable_in_utc)]


class SegmentMessage(Model):
    """One message of the Segment HTTP Tracking API. Unknown fields are kept, as Segment keeps them."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_max_length=MAX_EVENT_BYTES)

    type: EventType
    message_id: str | None = Field(default=None, alias="messageId", min_length=1, max_length=200)
    anonymous_id: Identity | None = Field(default=None, alias="anonymousId")
    user_id: Identity | None = Field(default=None, alias="userId")
    previous_id: Identity | None = Field(default=None, alias="previousId")
    group_id: Identity | None = Field(default=None, alias="groupId")
    event: str | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=500)
    category: str | None = Field(default=None, max_length=500)
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, Any] = Field(default_factory=dict)
    timestamp: Timestamp | None = None
    original_timestamp: Timestamp | None = Field(default=None, alias="originalTimestamp")
    sent_at: Timestamp | None = Field(default=None, alias="sentAt")

    @model_validator(mode="after")
    def _required_for_type(self) -> SegmentMessage:
        if self.type == "alias":
            if not (self.previous_id and self.user_id):
                raise ValueError("alias needs both previousId and userId")
        elif not (self.user_id or self.anonymous_id):
            raise ValueError(f"{self.type} needs a userId or an anonymousId")
        if self.type == "track" and not (self.event and self.event.strip()):
            raise ValueError("track needs an event name in `event`")
        if self.type == "group" and not self.group_id:
            raise ValueError("group needs a groupId")
        return self

    def to_tracked(self, source_id: str, received_at: datetime) -> TrackedEvent:
        """The event as stored; a 422 (InvalidInput) when its time cannot be placed on our clock."""
        original = self.original_timestamp or self.timestamp
        try:
            timestamp = corrected_timestamp(original, self.sent_at, received_at)
        except ValueError as exc:
            field = "originalTimestamp" if self.original_timestamp else "timestamp"
            raise InvalidInput(
                "The event's time cannot be placed; see errors.",
                errors=[{"field": field, "message": str(exc)}],
            ) from None
        extra = {key: value for key, value in (self.model_extra or {}).items() if key != "writeKey"}
        return TrackedEvent(
            source_id=source_id,
            message_id=self.message_id or f"srv-{uuid.uuid4()}",
            type=self.type,
            user_id=self.user_id,
            anonymous_id=self.anonymous_id,
            previous_id=self.previous_id,
            group_id=self.group_id,
            event=self.event,
            name=self.name,
            category=self.category,
            properties=self.properties,
            traits=self.traits,
            context=self.context,
            integrations=self.integrations,
            extra=extra,
            timestamp=timestamp,
            original_timestamp=original,
            sent_at=self.sent_at,
            received_at=received_at,
        )


def corrected_timestamp(
    original: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """When the event happened, on our clock.

    A device clock can be hours off. Like Segment, we trust the device only for the interval between the
    event and sending it (`sentAt - timestamp`) and subtract that from our own `receivedAt`. Without
    `sentAt` a device timestamp may still not lie in our future. So a bad clock never reorders traits.

    A ValueError says why when the result would lie before EARLIEST_EVENT_TIME.
    """
    if original is None:
        return received_at
    if sent_at is None:
        if original < EARLIEST_EVENT_TIME:
            raise ValueError(
                f"it is before {EARLIEST_EVENT_TIME:%Y-%m-%d}, which means the device clock was not set; "
                "send sentAt too, so that the clock can be corrected"
            )
        return min(original, received_at)
    # Sent before it happened: the device is wrong either way, and the event cannot lie in our future.
    device_delay = max(sent_at - original, timedelta(0))
    if device_delay > received_at - EARLIEST_EVENT_TIME:  # checked first: the subtraction could overflow
        raise ValueError(
            f"it lies {device_delay.days} days before sentAt, so the event would have happened before "
            f"{EARLIEST_EVENT_TIME:%Y-%m-%d}; check the device clock"
        )
    return received_at - device_delay


class TrackedEvent(Model):
    """An accepted event, as stored in the events table and delivered on its stream."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    message_id: str
    type: EventType
    user_id: str | None = None
    anonymous_id: str | None = None
    previous_id: str | None = None
    group_id: str | None = None
    event: str | None = None
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    timestamp: AwareDatetime  # corrected, see corrected_timestamp
    original_timestamp: AwareDatetime | None = None
    sent_at: AwareDatetime | None = None
    received_at: AwareDatetime

    @property
    def all_traits(self) -> dict[str, Any]:
        """Traits the event tells about its person: `context.traits`, overridden by identify's `traits`."""
        ctx_traits = self.context.get("traits")
        merged = dict(ctx_traits) if isinstance(ctx_traits, dict) else {}
        if self.type == "identify":
            merged.update(self.traits)
        return merged

    @property
    def email(self) -> str | None:
        value = self.all_traits.get("email")
        if isinstance(value, str) and "@" in value.strip()[1:-1]:
            return value.strip().lower()
        return None

    @property
    def identity_key(self) -> str:
        """The events table's `identity`: `user:<userId>`, else `anon:<anonymousId>`, else `email:<addr>`."""
        if self.user_id:
            return keys.event_identity("user", self.user_id)
        if self.anonymous_id is None and self.email:
            return keys.event_identity("email", self.email)
        return keys.event_identity("anon", str(self.anonymous_id))

    def to_item(self, key: dict[str, str], ttl_epoch: int) -> dict[str, Any]:
        """The events-table item: a few top-level attributes to read at a glance, the event as JSON."""
        item: dict[str, Any] = {
            **key,
            "sourceId": self.source_id,
            "messageId": self.message_id,
            "type": self.type,
            "timestamp": _iso(self.timestamp),
            "receivedAt": _iso(self.received_at),
            "ttl": ttl_epoch,
            "message": self.model_dump_json(exclude_none=True),
            # Whose event this is, for a person's timeline (index ByIdentity, docs/data-model.md). An event
            # with neither id (email feedback: delivered, opened...) is filed under its address, so that a
            # person's erasure finds it.
            "identity": self.identity_key,
        }
        for attr, value in (
            ("userId", self.user_id),
            ("anonymousId", self.anonymous_id),
            ("event", self.event),
        ):
            if value is not None:
                item[attr] = value
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TrackedEvent:
        return cls.model_validate_json(item["message"])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_size(raw: dict[str, Any]) -> int:
    """Bytes of `raw` as compact UTF-8 JSON. A value JSON cannot carry fails: TypeError for a non-JSON
    type, ValueError for NaN or an infinity, UnicodeEncodeError for a lone surrogate."""
    return len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())

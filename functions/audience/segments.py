"""Segments: a named condition (audience.conditions) and the people who satisfy it, kept per person.

Membership changes one person at a time: the profile stream re-evaluates the person whose profile changed
(functions/audience/membership.py), a per-person timer re-evaluates them when a time-based condition may
have flipped, and a backfill evaluates every known person once when a definition is created or its
condition changes. This module is the plain logic they share; docs/segments.md explains the whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, ConfigDict, Field

from audience.conditions import Condition, matches, next_change
from leadstream.models import Model
from leadstream.scores import Stage

if TYPE_CHECKING:
    from leadstream.profiles import Profile


class SegmentContent(Model):
    """What a marketer writes (the body of POST and PUT)."""

    # defer_build (on every model here): validators are built on first use, not at import; the
    # email API imports these models for its route declarations (docs/api.md, "Cold start").
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    condition: Condition


class Backfill(Model):
    """Progress of the one pass over existing people that a new condition needs (docs/segments.md)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    version: int  # the segment version it evaluates; a newer version starts its own pass
    page: int = 0  # pages done; the message for page n is acted on only while this is n
    cursor: str | None = None  # where page `page` starts (opaque; None with page 0: the beginning)
    done: bool = False
    evaluated: int = 0
    started_at: AwareDatetime | None = Field(default=None, alias="startedAt")
    finished_at: AwareDatetime | None = Field(default=None, alias="finishedAt")


class Segment(SegmentContent):
    """A stored segment definition. `version` grows with every change (the ETag)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    segment_id: str = Field(alias="segmentId", min_length=1, max_length=100)
    version: int = Field(ge=1)
    archived: bool = False
    created_at: AwareDatetime = Field(alias="createdAt")
    updated_at: AwareDatetime = Field(alias="updatedAt")
    created_by: str | None = Field(default=None, alias="createdBy")
    updated_by: str | None = Field(default=None, alias="updatedBy")
    # The version whose condition the membership follows: a rename keeps it, a new condition moves it.
    condition_version: int = Field(default=1, alias="conditionVersion", ge=1)
    backfill: Backfill | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class SegmentSummary(Model):
    """A segment in the list (its condition is left out: GET the segment for it)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    segment_id: str = Field(alias="segmentId")
    name: str
    description: str | None = None
    version: int
    updated_at: AwareDatetime = Field(alias="updatedAt")
    updated_by: str | None = Field(default=None, alias="updatedBy")
    backfill: Backfill | None = None

    @classmethod
    def of(cls, segment: Segment) -> SegmentSummary:
        return cls.model_validate(segment.model_dump(include=set(cls.model_fields)))


class Member(Model):
    """A member as the list shows them: who, and their stage and current scores (only `profileId` for a
    profile that is gone)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    profile_id: str = Field(alias="profileId")
    email: str | None = None
    name: str | None = None
    stage: Stage | None = None
    score: float | None = Field(default=None, description="engagement, decayed to now")
    fit: int | None = None
    grade: str | None = None


class MemberCount(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    segment_id: str = Field(alias="segmentId")
    count: int
    complete: bool = Field(
        description="false while the backfill of the current condition runs: people who existed before "
        "it are still being added, so the count is exact for what has been evaluated so far"
    )


@dataclass(frozen=True)
class SegmentChange:
    """A person entered (or left) a segment at `at`. What `audience.membership.apply` returns."""

    segment_id: str
    profile_id: str
    entered: bool
    at: datetime


def is_eligible(profile: Profile) -> bool:
    """Only live, known people are members of anything: an anonymous visitor has no address to reach, and
    an absorbed profile (mergedInto) lives on in the one it was merged into."""
    return profile.merged_into is None and profile.is_known


def wanted_segments(segments: Iterable[Segment], profile: Profile, now: datetime) -> set[str]:
    """The ids of the segments `profile` belongs in at `now`."""
    if not is_eligible(profile):
        return set()
    return {segment.segment_id for segment in segments if matches(segment.condition, profile, now)}


def next_evaluation(segments: Iterable[Segment], profile: Profile, now: datetime) -> datetime | None:
    """When time alone may change any of the profile's memberships: the one timer the person needs."""
    if not is_eligible(profile):
        return None
    changes = (next_change(segment.condition, profile, now) for segment in segments)
    return min((change for change in changes if change is not None), default=None)


def changes_between(
    current: set[str], wanted: set[str], profile_id: str, at: datetime
) -> list[SegmentChange]:
    """Entries and exits that take `profile_id` from the segments it is in to those it belongs in."""
    entries = [SegmentChange(segment_id, profile_id, True, at) for segment_id in sorted(wanted - current)]
    exits = [SegmentChange(segment_id, profile_id, False, at) for segment_id in sorted(current - wanted)]
    return entries + exits


def audience_view(profile: Profile | None) -> Mapping[str, Any] | None:
    """Everything a condition can read from a profile (and whether it may be a member at all). Two images
    with the same view get the same memberships, so a write that changed nothing here is skipped: the
    audience function's own echoes, scoring's bookkeeping, a last-seen stamp."""
    if profile is None:
        return None
    score = profile.score
    return {
        "eligible": is_eligible(profile),
        "traits": profile.traits,
        "email": profile.email,
        "stage": profile.stage,
        "tags": profile.tags,
        "activity": profile.activity,
        "score": (score.mantissa, score.exponent, score.half_life_days, score.fit, score.grade),
    }

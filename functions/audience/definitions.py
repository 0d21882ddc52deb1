"""Segment definitions as the API changes them: create, read, change, archive.

A change or an archive is made on the version the caller read (`check_version`: the API's If-Match)
and stored only if that version is still the latest. A new segment, or a changed condition, starts the
one backfill that gives it its members among the people who already exist
(audience.membership.start_backfill); a rename or a new description does not. Archiving takes the
segment out of every evaluation; its member items stay as they were (docs/segments.md).

Other domains ask here whether a segment is live (`is_live`) and page through its members
(`member_ids_page`), never in audience.store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from audience import store
from audience.membership import start_backfill
from audience.segments import Member, Segment, SegmentContent
from leadstream import clock, keys
from leadstream.errors import Conflict, NotFound, PreconditionFailed
from leadstream.store.profiles import load_profiles

if TYPE_CHECKING:
    from leadstream.profiles import Profile


def create(content: SegmentContent, *, user: str, new_id: str | None = None) -> Segment:
    """A new segment and its backfill; its id is made from `new_id` (a UUID; a create retried with the
    same Idempotency-Key has the same one, and then finds the segment its first try stored)."""
    now = clock.now()
    segment = Segment.model_validate(
        {
            **content.model_dump(by_alias=True),
            "segmentId": keys.short_id("seg", new_id),
            "version": 1,
            "conditionVersion": 1,
            "createdAt": now,
            "updatedAt": now,
            "createdBy": user,
            "updatedBy": user,
        }
    )
    if not store.save_segment(segment):
        segment = _earlier_try(segment.segment_id, user)
        if segment.backfill is not None:
            return segment
    return segment.model_copy(update={"backfill": start_backfill(segment)})


def _earlier_try(segment_id: str, user: str) -> Segment:
    """The segment a first try of this create stored (it may have died before starting the backfill)."""
    earlier = store.get_segment(segment_id)
    if earlier is None or earlier.created_by != user:
        raise Conflict(f"Segment id {segment_id} is taken; retry with a new Idempotency-Key.")
    return earlier


def get(segment_id: str) -> Segment:
    segment = store.get_segment(segment_id)
    if segment is None:
        raise NotFound(f"There is no segment {segment_id!r}.")
    return segment


def is_live(segment_id: str) -> bool:
    """Whether the segment exists and is not archived (what a campaign may send to)."""
    segment = store.get_segment(segment_id)
    return segment is not None and not segment.archived


def update(
    segment_id: str, content: SegmentContent, *, check_version: Callable[[int], None], user: str
) -> Segment:
    current = _live(segment_id, check_version)
    new_condition = content.condition != current.condition
    version = current.version + 1
    segment = Segment.model_validate(
        {
            **current.model_dump(by_alias=True),
            **content.model_dump(by_alias=True),
            "version": version,
            "conditionVersion": version if new_condition else current.condition_version,
            "updatedAt": clock.now(),
            "updatedBy": user,
        }
    )
    if not store.save_segment(segment):
        raise _stale(get(segment_id))
    if new_condition:
        return segment.model_copy(update={"backfill": start_backfill(segment)})
    return segment


def archive(segment_id: str, *, check_version: Callable[[int], None], user: str) -> None:
    current = _live(segment_id, check_version)
    archived = current.model_copy(
        update={
            "archived": True,
            "version": current.version + 1,
            "updated_at": clock.now(),
            "updated_by": user,
        }
    )
    if not store.save_segment(archived):
        raise _stale(get(segment_id))


def _live(segment_id: str, check_version: Callable[[int], None]) -> Segment:
    current = get(segment_id)
    if current.archived:
        raise NotFound(f"Segment {segment_id!r} is archived.")
    check_version(current.version)
    return current


def _stale(current: Segment) -> PreconditionFailed:
    return PreconditionFailed(
        f"The segment changed meanwhile: it is at version {current.version} now. Read it again and "
        "re-apply your change."
    )


def members_page(segment_id: str, *, limit: int, cursor: str | None) -> tuple[list[Member], str | None]:
    """A page of members as profile summaries (id, email, name, stage, current score): one Query for the
    ids and one BatchGetItem for the profiles."""
    get(segment_id)
    ids, next_cursor = store.member_ids_page(segment_id, limit=limit, start=cursor)
    profiles = load_profiles(ids)
    now = clock.now()
    members = [_member(profiles[pid], now) if pid in profiles else Member(profile_id=pid) for pid in ids]
    return members, next_cursor


def member_ids_page(segment_id: str, *, limit: int, start: str | None) -> tuple[list[str], str | None]:
    """A page of member profile ids, in profile id order (one Query), and the next page's opaque cursor
    (None after the last page)."""
    return store.member_ids_page(segment_id, limit=limit, start=start)


def _member(profile: Profile, now: datetime) -> Member:
    traits = profile.traits
    name = traits.get("name") or " ".join(
        str(part) for part in (traits.get("firstName"), traits.get("lastName")) if part
    )
    return Member(
        profile_id=profile.profile_id,
        email=profile.email,
        name=str(name) if name else None,
        stage=profile.stage,
        score=round(profile.score.engagement_at(now), 2),
        fit=profile.score.fit,
        grade=profile.score.grade,
    )

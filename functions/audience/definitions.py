"""Segment definitions as the API changes them: create, read, change (If-Match), archive.

A new segment, or a changed condition, starts the one backfill that gives it its members among the people
who already exist (audience.membership.start_backfill); a rename or a new description does not. Archiving
takes the segment out of every evaluation; its member items stay as they were (docs/segments.md).

Other domains ask here whether a segment is live (`is_live`) and page through its members
(`member_ids_page`), never in audience.store.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from audience import store
from audience.segments import Segment, SegmentContent
from leadstream import clock
from leadstream.errors import NotFound, PreconditionFailed

if TYPE_CHECKING:
    from leadstream.profiles import Profile


def etag(segment: Segment) -> str:
    return f'"{segment.version}"'


def create(content: SegmentContent, *, user: str) -> Segment:
    from audience.membership import start_backfill

    now = clock.now()
    segment = Segment.model_validate(
        {
            **content.model_dump(by_alias=True),
            "segmentId": f"seg-{uuid.uuid4().hex[:16]}",
            "version": 1,
            "conditionVersion": 1,
            "createdAt": now,
            "updatedAt": now,
            "createdBy": user,
            "updatedBy": user,
        }
    )
    if not store.save_segment(segment):
        raise RuntimeError(f"new segment id {segment.segment_id} was taken")  # a uuid: a bug
    return segment.model_copy(update={"backfill": start_backfill(segment)})


def get(segment_id: str) -> Segment:
    segment = store.get_segment(segment_id)
    if segment is None:
        raise NotFound(f"There is no segment {segment_id!r}.")
    return segment


def is_live(segment_id: str) -> bool:
    """Whether the segment exists and is not archived (what a campaign may send to)."""
    segment = store.get_segment(segment_id)
    return segment is not None and not segment.archived


def update(segment_id: str, content: SegmentContent, *, expected: int, user: str) -> Segment:
    from audience.membership import start_backfill

    current = _live(segment_id, expected)
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


def archive(segment_id: str, *, expected: int, user: str) -> None:
    current = _live(segment_id, expected)
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


def summary(segment: Segment) -> dict[str, Any]:
    return segment.model_dump(
        by_alias=True,
        mode="json",
        exclude_none=True,
        include={"segment_id", "name", "description", "version", "updated_at", "updated_by", "backfill"},
    )


def _live(segment_id: str, expected: int) -> Segment:
    current = get(segment_id)
    if current.archived:
        raise NotFound(f"Segment {segment_id!r} is archived.")
    if current.version != expected:
        raise _stale(current)
    return current


def _stale(current: Segment) -> PreconditionFailed:
    return PreconditionFailed(
        f"The segment changed meanwhile: it is at version {current.version} now (ETag {etag(current)}). "
        "Read it again and re-apply your change."
    )


def members_page(segment_id: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of members as profile summaries (id, email, name, stage, current score): one Query for the
    ids and one BatchGetItem for the profiles."""
    from leadstream.store.profiles import load_profiles

    get(segment_id)
    ids, next_cursor = store.member_ids_page(segment_id, limit=limit, start=cursor)
    profiles = load_profiles(ids)
    now = clock.now()
    members = [_member(profiles[pid], now) if pid in profiles else {"profileId": pid} for pid in ids]
    return {"members": members, "nextCursor": next_cursor}


def member_ids_page(segment_id: str, *, limit: int, start: str | None) -> tuple[list[str], str | None]:
    """A page of member profile ids, in profile id order (one Query), and the next page's opaque cursor
    (None after the last page)."""
    return store.member_ids_page(segment_id, limit=limit, start=start)


def _member(profile: Profile, now: datetime) -> dict[str, Any]:
    traits = profile.traits
    name = traits.get("name") or " ".join(
        str(part) for part in (traits.get("firstName"), traits.get("lastName")) if part
    )
    return {
        "profileId": profile.profile_id,
        "email": profile.email,
        "name": name or None,
        "stage": profile.stage,
        "score": round(profile.score.engagement_at(now), 2),
        "fit": profile.score.fit,
        "grade": profile.score.grade,
    }

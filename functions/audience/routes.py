"""Segment routes under /marketing/segments: definitions, their members and how many there are. Every
route needs the marketing or admin role. Thin: parse, call audience.definitions or audience.store, shape
the answer.

Segments are versioned documents: every answer with one carries its ETag, a change or an archive needs
If-Match (428 without it, 412 when stale), and a create takes an Idempotency-Key.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audience import definitions
from audience.segments import Member, MemberCount, Segment, SegmentContent, SegmentSummary
from audience.store import list_segments as page
from audience.store import member_count
from leadstream.api import (
    CREATED_HEADERS,
    ETAG_HEADER,
    Api,
    IdempotencyKey,
    IfMatch,
    ListParams,
    check_if_match,
    create_once,
    page_model,
    versioned_response,
)
from leadstream.auth import MARKETING
from leadstream.pagination import decode_cursor, encode_cursor

TAG = "segments"
SegmentIdPath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", description="the segment's id")
]
SegmentPage = page_model(SegmentSummary, "SegmentPage", "segments")
MemberPage = page_model(Member, "MemberPage", "a segment's members")


def register(api: Api) -> None:
    _definitions(api)
    _changes(api)
    _members(api)


def _definitions(api: Api) -> None:
    base, one = "/marketing/segments", "/marketing/segments/<segment_id>"

    @api.route(
        "GET", base, policy=MARKETING, summary="List the live segments, last changed first", tag=TAG,
        problems=[400],
    )  # fmt: skip
    def list_segments(params: Annotated[ListParams, Query()]) -> SegmentPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        segments, last_key = page(limit=params.limit, start_key=decode_cursor(params.cursor))
        items = [SegmentSummary.of(segment) for segment in segments]
        return SegmentPage(items=items, nextCursor=encode_cursor(last_key))

    @api.route(
        "POST", base, policy=MARKETING, tag=TAG, status_code=201, problems=[409], headers=CREATED_HEADERS,
        summary="Create a segment; a backfill then adds the people who already match",
    )  # fmt: skip
    def create_segment(body: SegmentContent, idempotency_key: IdempotencyKey = None) -> Response[Segment]:
        def create(new_id: str) -> dict[str, Any]:
            return definitions.create(body, user=api.principal().user_id, new_id=new_id).to_json()

        document = create_once(
            api, resource="segment", body=body, idempotency_key=idempotency_key, create=create
        )
        created = Segment.model_validate(document)
        return versioned_response(
            created, created.version, status=201, location=f"{base}/{created.segment_id}"
        )

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a segment", tag=TAG, problems=[404], headers=ETAG_HEADER
    )
    def get_segment(segment_id: SegmentIdPath) -> Response[Segment]:
        segment = definitions.get(segment_id)
        return versioned_response(segment, segment.version)


def _changes(api: Api) -> None:
    one = "/marketing/segments/<segment_id>"

    @api.route(
        "PUT", one, policy=MARKETING, tag=TAG, problems=[404, 412, 428], headers=ETAG_HEADER,
        summary="Change a segment (If-Match required); a new condition starts a new backfill",
    )  # fmt: skip
    def update_segment(
        segment_id: SegmentIdPath, body: SegmentContent, if_match: IfMatch = None
    ) -> Response[Segment]:
        changed = definitions.update(
            segment_id, body, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return versioned_response(changed, changed.version)

    @api.route(
        "DELETE", one, policy=MARKETING, tag=TAG, status_code=204, problems=[404, 412, 428],
        summary="Archive a segment (If-Match required): out of every evaluation and the list",
    )  # fmt: skip
    def archive_segment(segment_id: SegmentIdPath, if_match: IfMatch = None) -> Response[None]:
        definitions.archive(
            segment_id, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return Response(status_code=204)


def _members(api: Api) -> None:
    one = "/marketing/segments/<segment_id>"

    @api.route(
        "GET", f"{one}/members", policy=MARKETING, summary="A segment's members, in profile id order",
        tag=TAG, problems=[400, 404],
    )  # fmt: skip
    def list_segment_members(segment_id: SegmentIdPath, params: Annotated[ListParams, Query()]) -> MemberPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        members, next_cursor = definitions.members_page(segment_id, limit=params.limit, cursor=params.cursor)
        return MemberPage(items=members, nextCursor=next_cursor)

    @api.route(
        "GET", f"{one}/count", policy=MARKETING, summary="How many members a segment has", tag=TAG,
        problems=[404],
    )  # fmt: skip
    def count_segment_members(segment_id: SegmentIdPath) -> MemberCount:
        backfill = definitions.get(segment_id).backfill
        return MemberCount(
            segment_id=segment_id,
            count=member_count(segment_id),
            complete=backfill is None or backfill.done,
        )

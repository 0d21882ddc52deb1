"""Segment routes under /marketing/segments (a Router included by handlers/email_api.py). Thin: request in,
audience.definitions out. Every route needs the marketing policy (marketing or admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadstream.routing import MarketingRequest, document_response, no_content

if TYPE_CHECKING:
    from audience.segments import Segment, SegmentContent

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # its __init__ has no annotations
request = MarketingRequest(router)


def _content() -> SegmentContent:
    from audience.segments import SegmentContent

    return SegmentContent.model_validate(request.body())


def _expected() -> int:
    from mail.templates import expected_version

    return expected_version(request.if_match())


def _segment_response(segment: Segment, status: int = 200) -> Response[str]:
    from audience.definitions import etag

    location = f"/marketing/segments/{segment.segment_id}"
    return document_response(segment.to_json(), etag=etag(segment), status=status, location=location)


@router.get("/marketing/segments")
def list_segments() -> dict[str, Any]:
    from audience.definitions import summary
    from audience.store import list_segments
    from leadstream.pagination import decode_cursor, encode_cursor, parse_limit

    request.caller()
    query = request.query()
    segments, last_key = list_segments(
        limit=parse_limit(query.get("limit")), start_key=decode_cursor(query.get("cursor"))
    )
    return {"segments": [summary(segment) for segment in segments], "nextCursor": encode_cursor(last_key)}


@router.post("/marketing/segments")
def create_segment() -> Response[str]:
    from audience import definitions

    caller = request.caller()
    return _segment_response(definitions.create(_content(), user=caller.user_id), status=201)


@router.get("/marketing/segments/<segment_id>")
def get_segment(segment_id: str) -> Response[str]:
    from audience import definitions

    request.caller()
    return _segment_response(definitions.get(segment_id))


@router.put("/marketing/segments/<segment_id>")
def update_segment(segment_id: str) -> Response[str]:
    from audience import definitions

    caller = request.caller()
    content = _content()
    return _segment_response(
        definitions.update(segment_id, content, expected=_expected(), user=caller.user_id)
    )


@router.delete("/marketing/segments/<segment_id>")
def archive_segment(segment_id: str) -> Response[str]:
    from audience import definitions

    caller = request.caller()
    definitions.archive(segment_id, expected=_expected(), user=caller.user_id)
    return no_content()


@router.get("/marketing/segments/<segment_id>/members")
def list_members(segment_id: str) -> dict[str, Any]:
    from audience import definitions
    from leadstream.pagination import parse_limit

    request.caller()
    query = request.query()
    return definitions.members_page(
        segment_id, limit=parse_limit(query.get("limit")), cursor=query.get("cursor")
    )


@router.get("/marketing/segments/<segment_id>/count")
def count_members(segment_id: str) -> dict[str, Any]:
    from audience import definitions
    from audience.store import member_count

    request.caller()
    segment = definitions.get(segment_id)
    backfill = segment.backfill
    return {
        "segmentId": segment_id,
        "count": member_count(segment_id),
        # Until the backfill of the current condition is done, people who existed before it are still
        # being added: the count is exact for what has been evaluated so far.
        "complete": backfill is None or backfill.done,
    }

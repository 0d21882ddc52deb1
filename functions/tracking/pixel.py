"""The tracking pixel (RudderStack's pixel API): an event in a GET query, answered with a 1x1 GIF."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadstream.errors import NotFound

# The classic 43-byte transparent 1x1 GIF89a.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
# Every load must reach us: a cached pixel is an event we never see.
NO_STORE_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}
PIXEL_TYPES = ("track", "page")
# Query parameters that are fields of the event; every other one becomes a property.
EVENT_FIELDS = ("anonymousId", "userId", "messageId", "event", "name", "category", "timestamp")
NOT_PROPERTIES = frozenset({"writeKey", *EVENT_FIELDS})


def pixel_type(segment: str) -> str:
    if segment not in PIXEL_TYPES:
        raise NotFound(f"/pixel/v1/{segment} is not a pixel; use /pixel/v1/track or /pixel/v1/page.")
    return segment


def pixel_event(kind: str, query: Mapping[str, str], *, user_agent: str | None) -> dict[str, Any]:
    """The raw event a pixel URL describes: `event` names a track, `name` a page."""
    raw: dict[str, Any] = {"type": kind}
    raw.update({name: query[name] for name in EVENT_FIELDS if query.get(name)})
    raw["properties"] = {name: value for name, value in query.items() if name not in NOT_PROPERTIES}
    if user_agent:
        raw["context"] = {"userAgent": user_agent}
    return raw

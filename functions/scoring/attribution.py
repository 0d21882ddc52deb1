"""Marketing attribution of one event: where the person came from (UTM parameters and referrer)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from leadstream.events import TrackedEvent
from leadstream.profiles import Touch, event_stamp

MAX_VALUE_LENGTH = 500
# Touch field <- key in Segment's context.campaign, and the query parameter carrying the same thing.
CAMPAIGN_FIELDS = {
    "source": ("source", "utm_source"),
    "medium": ("medium", "utm_medium"),
    "campaign": ("name", "utm_campaign"),
    "term": ("term", "utm_term"),
    "content": ("content", "utm_content"),
}


def touch_of(event: TrackedEvent) -> Touch | None:
    """The event's attribution, or None when it has neither UTM parameters nor an external referrer.

    `context.campaign` (what analytics.js derives from the landing URL) wins per field over the utm_*
    parameters of the page URL (`context.page.url`, else `properties.url`). A referrer on the page's own
    host is navigation inside the site, not a source, and is ignored.
    """
    page = _mapping(event.context.get("page"))
    url = _text(page.get("url")) or _text(event.properties.get("url"))
    campaign = _mapping(event.context.get("campaign"))
    query = _query(url)
    fields = {
        field: _text(campaign.get(campaign_key)) or _text(query.get(parameter))
        for field, (campaign_key, parameter) in CAMPAIGN_FIELDS.items()
    }
    referrer = _text(page.get("referrer")) or _text(event.properties.get("referrer"))
    if referrer and _same_site(referrer, url):
        referrer = None
    if referrer is None and not any(fields.values()):
        return None
    return Touch(
        **fields,
        referrer=referrer,
        url=url,
        at=event.timestamp,
        message_id=event.message_id,
        stamp=event_stamp(event),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text[:MAX_VALUE_LENGTH] or None


def _query(url: str | None) -> dict[str, str]:
    if not url:
        return {}
    try:
        return {name.lower(): value for name, value in parse_qsl(urlsplit(url).query)}
    except ValueError:  # a malformed URL (e.g. a bad IPv6 host) carries no usable parameters
        return {}


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def _same_site(referrer: str, url: str | None) -> bool:
    referrer_host = _host(referrer)
    return url is not None and referrer_host is not None and referrer_host == _host(url)

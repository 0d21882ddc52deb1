"""Email engagement as tracking events: what the tracking links and SES notifications record.

They are ordinary `TrackedEvent`s of the source `email`, stored through `store_events` like any website
event, so the scoring stream sees and scores them. Names and properties follow Segment's Email spec
("Email Opened", "Email Link Clicked", "Email Delivered", "Email Bounced", "Email Marked as Spam",
"Unsubscribed"; `email_id`, `campaign_id`, `link_url`, ...). The person is named by their address in
`context.traits.email`, which identity resolution maps to their profile.

Opens and clicks by link scanners (mail security gateways that fetch every link and image on delivery)
are recorded with `scanner: true` and the reason, so that scoring can skip them.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from leadstream.events import TrackedEvent
from mail.config import IpNetwork
from mail.sends import SendRecord

EMAIL_SOURCE_ID = "email"

EMAIL_OPENED = "Email Opened"
EMAIL_LINK_CLICKED = "Email Link Clicked"
EMAIL_DELIVERED = "Email Delivered"
EMAIL_BOUNCED = "Email Bounced"
EMAIL_MARKED_AS_SPAM = "Email Marked as Spam"
UNSUBSCRIBED = "Unsubscribed"

# User agents of mail security gateways, link previewers and scripts (lower-case substrings).
SCANNER_AGENTS = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "safelinks",
    "microsoft office existence discovery",
    "bingpreview",
    "trendmicro",
    "symantec",
    "forcepoint",
    "zscaler",
    "sophos",
    "fortinet",
    "cisco",
    "ironport",
    "checkpoint",
    "messagelabs",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "curl/",
    "wget/",
    "okhttp",
    "java/",
    "apache-httpclient",
    "slackbot",
    "facebookexternalhit",
    "linkedinbot",
    "twitterbot",
    "bot/",
    "spider",
    "crawler",
)


def scanner_reason(
    *,
    user_agent: str | None,
    source_ip: str | None,
    at: datetime,
    record: SendRecord | None,
    window_seconds: float,
    ip_ranges: Sequence[IpNetwork] = (),
) -> str | None:
    """Why an open or click looks like a machine's, or None when it may be a person's.

    A person needs time to open an email and click: anything within `window_seconds` of sending or of
    delivery is a gateway scanning the message. Known scanner agents, a missing agent and listed address
    ranges count too.
    """
    agent = (user_agent or "").strip().lower()
    if not agent:
        return "no user agent"
    if any(marker in agent for marker in SCANNER_AGENTS):
        return "scanner user agent"
    if source_ip and ip_ranges and _in_ranges(source_ip, ip_ranges):
        return "scanner address range"
    if record is not None:
        for what, moment in (("sending", record.sent_at), ("delivery", record.delivered_at)):
            if moment is not None and 0 <= (at - moment).total_seconds() < window_seconds:
                return f"within {window_seconds:g} s of {what}"
    return None


def _in_ranges(source_ip: str, ranges: Sequence[IpNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(source_ip.strip())
    except ValueError:
        return False
    return any(address.version == network.version and address in network for network in ranges)


def send_properties(record: SendRecord | None, message_id: str) -> dict[str, Any]:
    """The properties every email event carries: which email, for which campaign or journey step."""
    properties: dict[str, Any] = {"email_id": message_id}
    if record is None:
        return properties
    for name, value in (
        ("campaign_id", record.campaign_id),
        ("journey_id", record.journey_id),
        ("step_id", record.step_id),
        ("template_id", record.template_id),
        ("template_version", record.template_version),
        ("email_subject", record.subject),
    ):
        if value is not None:
            properties[name] = value
    return properties


def email_event(
    name: str,
    *,
    email: str,
    at: datetime,
    properties: dict[str, Any],
    event_id: str | None = None,
    user_agent: str | None = None,
    source_ip: str | None = None,
    received_at: datetime | None = None,
) -> TrackedEvent:
    """A track event about the person at `email`. `event_id` makes a redelivered notification or a
    repeated request store the same event once; without it every call is a new event (each open counts)."""
    context: dict[str, Any] = {"traits": {"email": email.strip().lower()}}
    if user_agent:
        context["userAgent"] = user_agent
    if source_ip:
        context["ip"] = source_ip
    return TrackedEvent(
        source_id=EMAIL_SOURCE_ID,
        message_id=event_id or f"email-{uuid.uuid4()}",
        type="track",
        event=name,
        properties=properties,
        context=context,
        timestamp=min(at, received_at) if received_at else at,
        received_at=received_at or at,
    )

"""The links in marketing email: the open pixel, click redirects and unsubscribe (docs/email.md).

Every link carries a signed token (mail.link_tokens); a token that does not verify is a 400 and
nothing is recorded or redirected. The email it belongs to is looked up by its message id, which names the
recipient for the event. Opens and clicks that look like a link scanner's are recorded with
`scanner: true` (mail.events.scanner_reason) so that scoring can skip them. Unsubscribing is a
POST (RFC 8058 one-click from the mail client, or the button on the page a GET shows): a GET never
unsubscribes, because security gateways fetch every link of every email.

A person's first open, first click and the unsubscribe are marked on the send record (`openedAt`,
`clickedAt`, `unsubscribedAt`) and counted once in the email's report (mail.store.reports); scanner
hits are recorded as events but neither marked nor counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadstream import clock
from leadstream.caches import container_cache
from leadstream.events import TrackedEvent
from mail import events as ev
from mail.config import EmailSettings, get_email_settings
from mail.link_tokens import LinkKeys, LinkKind, link_keys, verify
from mail.reports import Metric
from mail.sends import SendRecord
from mail.store import reports, sends, suppression
from mail.suppression import SuppressionReason
from tracking.logic import store_events


@dataclass(frozen=True)
class EmailTrackingStore:
    get_send: Callable[[str], SendRecord | None]
    suppress: Callable[..., None]
    store_events: Callable[[Sequence[TrackedEvent]], None]
    # Marks openedAt/clickedAt/unsubscribedAt once and counts it in the email's report.
    count_first: Callable[[SendRecord, Metric, datetime], bool]


@container_cache
def dynamo_store() -> EmailTrackingStore:
    return EmailTrackingStore(
        get_send=sends.get_send,
        suppress=suppression.suppress,
        store_events=store_events,
        count_first=reports.count_first,
    )


@dataclass(frozen=True)
class Visit:
    """Who followed a link, and when."""

    user_agent: str | None = None
    source_ip: str | None = None
    at: datetime = field(default_factory=clock.now)


@dataclass(frozen=True)
class EmailLinks:
    settings: EmailSettings
    keys: LinkKeys
    store: EmailTrackingStore

    def open(self, token: str, visit: Visit) -> SendRecord | None:
        """Record "Email Opened" (when the email is one we sent)."""
        claims = verify(token, LinkKind.OPEN, self.keys)
        record = self.store.get_send(claims.message_id)
        if record is not None and record.email:
            event = self._engagement(ev.EMAIL_OPENED, record, visit, {})
            self.store.store_events([event])
            self._count_person(event, record, visit, Metric.OPENED)
        return record

    def click(self, token: str, visit: Visit) -> str:
        """Record "Email Link Clicked" and return where the link goes (only ever a URL we signed)."""
        claims = verify(token, LinkKind.CLICK, self.keys)
        assert claims.url is not None
        record = self.store.get_send(claims.message_id)
        if record is not None and record.email:
            properties = {"link_url": claims.url, "link_id": claims.index}
            event = self._engagement(ev.EMAIL_LINK_CLICKED, record, visit, properties)
            self.store.store_events([event])
            # A person who clicked opened it, even when their client blocked the pixel.
            self._count_person(event, record, visit, Metric.OPENED, Metric.CLICKED)
        return claims.url

    def unsubscribe_target(self, token: str) -> SendRecord | None:
        """The email an unsubscribe link belongs to (None: not one we sent, e.g. a preview)."""
        claims = verify(token, LinkKind.UNSUBSCRIBE, self.keys)
        record = self.store.get_send(claims.message_id)
        return record if record is not None and record.email else None

    def unsubscribe(self, token: str, visit: Visit, *, one_click: bool) -> SendRecord | None:
        """Suppress the recipient and record "Unsubscribed" (idempotent: a second POST changes nothing)."""
        record = self.unsubscribe_target(token)
        if record is None or record.email is None:
            return None
        how = "one-click" if one_click else "unsubscribe page"
        self.store.suppress(
            record.email, SuppressionReason.UNSUBSCRIBED, visit.at, message_id=record.message_id, detail=how
        )
        event = ev.email_event(
            ev.UNSUBSCRIBED,
            email=record.email,
            at=visit.at,
            properties={**ev.send_properties(record, record.message_id), "method": how},
            event_id=f"unsubscribe-{record.message_id}",
            user_agent=visit.user_agent,
            source_ip=visit.source_ip,
        )
        self.store.store_events([event])
        if record.unsubscribed_at is None:
            self.store.count_first(record, Metric.UNSUBSCRIBED, visit.at)
        return record

    def _count_person(self, event: TrackedEvent, record: SendRecord, visit: Visit, *metrics: Metric) -> None:
        """Count a person's first open or click in the report; a scanner's hit counts nothing. The record
        as read tells whether it was counted before, so a repeated open costs no write."""
        if event.properties.get("scanner"):
            return
        for metric in metrics:
            if getattr(record, f"{metric.value}_at") is None:
                self.store.count_first(record, metric, visit.at)

    def _engagement(
        self, name: str, record: SendRecord, visit: Visit, properties: dict[str, Any]
    ) -> TrackedEvent:
        assert record.email is not None
        reason = ev.scanner_reason(
            user_agent=visit.user_agent,
            source_ip=visit.source_ip,
            at=visit.at,
            record=record,
            window_seconds=self.settings.scanner_window_seconds,
            ip_ranges=self.settings.scanner_ip_ranges,
        )
        flags: dict[str, Any] = {"tracked_by": "leadstream", "scanner": reason is not None}
        if reason:
            flags["scanner_reason"] = reason
        return ev.email_event(
            name,
            email=record.email,
            at=visit.at,
            properties={**ev.send_properties(record, record.message_id), **properties, **flags},
            user_agent=visit.user_agent,
            source_ip=visit.source_ip,
        )


def email_links() -> EmailLinks:
    return EmailLinks(settings=get_email_settings(), keys=link_keys(), store=dynamo_store())

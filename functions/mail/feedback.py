"""What SES tells us about the emails we sent, turned into suppression, send records and events.

SES publishes the configuration set's events (event publishing: `eventType`) to an SNS topic; identity
notifications (`notificationType`) have the same shape and are accepted too. Each notification:

- Send: confirms a send claim that the sender did not get to record (closes the crash window).
- Delivery: notes `deliveredAt` (link scanners click within seconds of it) and records "Email Delivered".
  Delivery, a permanent bounce and a complaint are each counted once in the email's report
  (`Feedback._note`, with mail.store.reports.count_first).
- Bounce: a permanent (hard) bounce suppresses the address; every bounce records "Email Bounced".
- Complaint: suppresses the address and records "Email Marked as Spam".
- Open / Click (only when the configuration set tracks them): "Email Opened" / "Email Link Clicked",
  flagged `scanner` like the ones our own links record.
- Reject, Rendering Failure, DeliveryDelay: logged and counted, nothing stored.

Event ids derive from the SNS message id, so a redelivered notification stores its events once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, ConfigDict, Field

from leadstream import clock
from leadstream.events import TrackedEvent
from leadstream.models import Model
from mail import events as ev
from mail.config import EmailSettings
from mail.mime import MESSAGE_ID_HEADER
from mail.reports import Metric
from mail.sends import SendRecord
from mail.store import reports, sends, suppression
from mail.suppression import SuppressionReason
from tracking.logic import store_events


class _Model(Model):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class SesHeader(_Model):
    name: str
    value: str


class SesMail(_Model):
    timestamp: AwareDatetime
    ses_message_id: str = Field(alias="messageId")
    source: str | None = None
    destination: list[str] = Field(default_factory=list)
    headers: list[SesHeader] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((h.value.strip() for h in self.headers if h.name.lower() == wanted), None)


class BouncedRecipient(_Model):
    email_address: str = Field(alias="emailAddress")
    status: str | None = None
    diagnostic_code: str | None = Field(default=None, alias="diagnosticCode")


class SesBounce(_Model):
    bounce_type: str = Field(alias="bounceType")  # Permanent, Transient, Undetermined
    bounce_sub_type: str | None = Field(default=None, alias="bounceSubType")
    bounced_recipients: list[BouncedRecipient] = Field(alias="bouncedRecipients")
    timestamp: AwareDatetime


class ComplainedRecipient(_Model):
    email_address: str = Field(alias="emailAddress")


class SesComplaint(_Model):
    complained_recipients: list[ComplainedRecipient] = Field(alias="complainedRecipients")
    complaint_feedback_type: str | None = Field(default=None, alias="complaintFeedbackType")
    timestamp: AwareDatetime


class SesDelivery(_Model):
    timestamp: AwareDatetime
    recipients: list[str]


class SesEngagement(_Model):
    """An open or a click, as SES's own tracking reports it."""

    timestamp: AwareDatetime
    user_agent: str | None = Field(default=None, alias="userAgent")
    ip_address: str | None = Field(default=None, alias="ipAddress")
    link: str | None = None


class SesNotification(_Model):
    event_type: str | None = Field(default=None, alias="eventType")
    notification_type: str | None = Field(default=None, alias="notificationType")
    mail: SesMail
    bounce: SesBounce | None = None
    complaint: SesComplaint | None = None
    delivery: SesDelivery | None = None
    open: SesEngagement | None = None
    click: SesEngagement | None = None

    @property
    def kind(self) -> str:
        return self.event_type or self.notification_type or "Unknown"

    @property
    def message_id(self) -> str | None:
        """Our message id: the header the sender set (a tag as a fallback)."""
        tagged = self.mail.tags.get("leadstream-message-id") or []
        return self.mail.header(MESSAGE_ID_HEADER) or next(iter(tagged), None)


@dataclass(frozen=True)
class FeedbackStore:
    suppress: Callable[..., None]
    count_first: Callable[[SendRecord, Metric, datetime], bool]
    confirm_sent: Callable[..., bool]
    get_send: Callable[[str], SendRecord | None]
    store_events: Callable[[Sequence[TrackedEvent]], None]


def dynamo_store() -> FeedbackStore:
    return FeedbackStore(
        suppress=suppression.suppress,
        count_first=reports.count_first,
        confirm_sent=sends.confirm_sent,
        get_send=sends.get_send,
        store_events=store_events,
    )


@dataclass
class Handled:
    kind: str
    events: list[TrackedEvent] = field(default_factory=list)
    suppressed: list[tuple[str, SuppressionReason]] = field(default_factory=list)


@dataclass(frozen=True)
class Feedback:
    settings: EmailSettings
    store: FeedbackStore
    now: Callable[[], datetime] = clock.now

    def handle(self, notification: SesNotification, notification_id: str) -> Handled:
        handled = Handled(kind=notification.kind)
        handler = {
            "Send": self._send,
            "Delivery": self._delivery,
            "Bounce": self._bounce,
            "Complaint": self._complaint,
            "Open": self._open,
            "Click": self._click,
        }.get(notification.kind)
        if handler is not None:
            handler(notification, notification_id, handled)
        if handled.events:
            self.store.store_events(handled.events)
        return handled

    def _send(self, notification: SesNotification, _id: str, _handled: Handled) -> None:
        message_id = notification.message_id
        if message_id:
            self.store.confirm_sent(
                message_id, ses_message_id=notification.mail.ses_message_id, at=notification.mail.timestamp
            )

    def _delivery(self, notification: SesNotification, notification_id: str, handled: Handled) -> None:
        assert notification.delivery is not None
        delivery = notification.delivery
        record = self._note(notification, Metric.DELIVERED, delivery.timestamp)
        recipients = delivery.recipients or notification.mail.destination
        for index, address in enumerate(recipients):
            handled.events.append(
                self._event(
                    ev.EMAIL_DELIVERED,
                    notification,
                    record,
                    address=address,
                    at=delivery.timestamp,
                    properties={},
                    event_key=f"{notification_id}-{index}",
                )
            )

    def _bounce(self, notification: SesNotification, notification_id: str, handled: Handled) -> None:
        assert notification.bounce is not None
        bounce = notification.bounce
        permanent = bounce.bounce_type == "Permanent"
        record = self._note(notification, Metric.BOUNCED, bounce.timestamp) if permanent else None
        record = record or self._record(notification)
        for index, recipient in enumerate(bounce.bounced_recipients):
            if permanent:
                detail = f"{bounce.bounce_type}/{bounce.bounce_sub_type}: {recipient.diagnostic_code or ''}"
                self.store.suppress(
                    recipient.email_address,
                    SuppressionReason.BOUNCED,
                    bounce.timestamp,
                    message_id=notification.message_id,
                    detail=detail.strip(": "),
                )
                handled.suppressed.append((recipient.email_address, SuppressionReason.BOUNCED))
            properties = {
                "bounce_type": bounce.bounce_type,
                "bounce_sub_type": bounce.bounce_sub_type,
                "permanent": permanent,
            }
            handled.events.append(
                self._event(
                    ev.EMAIL_BOUNCED,
                    notification,
                    record,
                    address=recipient.email_address,
                    at=bounce.timestamp,
                    properties=properties,
                    event_key=f"{notification_id}-{index}",
                )
            )

    def _complaint(self, notification: SesNotification, notification_id: str, handled: Handled) -> None:
        assert notification.complaint is not None
        complaint = notification.complaint
        record = self._note(notification, Metric.COMPLAINED, complaint.timestamp)
        for index, recipient in enumerate(complaint.complained_recipients):
            self.store.suppress(
                recipient.email_address,
                SuppressionReason.COMPLAINED,
                complaint.timestamp,
                message_id=notification.message_id,
                detail=complaint.complaint_feedback_type,
            )
            handled.suppressed.append((recipient.email_address, SuppressionReason.COMPLAINED))
            properties = {"complaint_type": complaint.complaint_feedback_type}
            handled.events.append(
                self._event(
                    ev.EMAIL_MARKED_AS_SPAM,
                    notification,
                    record,
                    address=recipient.email_address,
                    at=complaint.timestamp,
                    properties=properties,
                    event_key=f"{notification_id}-{index}",
                )
            )

    def _open(self, notification: SesNotification, notification_id: str, handled: Handled) -> None:
        assert notification.open is not None
        self._engagement(ev.EMAIL_OPENED, notification, notification.open, notification_id, handled)

    def _click(self, notification: SesNotification, notification_id: str, handled: Handled) -> None:
        assert notification.click is not None
        self._engagement(ev.EMAIL_LINK_CLICKED, notification, notification.click, notification_id, handled)

    def _engagement(
        self,
        name: str,
        notification: SesNotification,
        engagement: SesEngagement,
        notification_id: str,
        handled: Handled,
    ) -> None:
        record = self._record(notification)
        reason = ev.scanner_reason(
            user_agent=engagement.user_agent,
            source_ip=engagement.ip_address,
            at=engagement.timestamp,
            record=record,
            window_seconds=self.settings.scanner_window_seconds,
            ip_ranges=self.settings.scanner_ip_ranges,
        )
        properties: dict[str, Any] = {"tracked_by": "ses", "scanner": reason is not None}
        if reason:
            properties["scanner_reason"] = reason
        if engagement.link:
            properties["link_url"] = engagement.link
        for index, address in enumerate(notification.mail.destination):
            handled.events.append(
                self._event(
                    name,
                    notification,
                    record,
                    address=address,
                    at=engagement.timestamp,
                    properties=properties,
                    event_key=f"{notification_id}-{index}",
                    user_agent=engagement.user_agent,
                    source_ip=engagement.ip_address,
                )
            )

    # --- helpers --------------------------------------------------------------------------------------
    def _note(self, notification: SesNotification, metric: Metric, at: datetime) -> SendRecord | None:
        """Mark and count `metric` once for the message (its report: delivered, bounced, complained) and
        return its record as it is now; None when there is no record of that message (mail we did not
        send, or sent long ago)."""
        record = self._record(notification)
        if record is None or getattr(record, metric.record_field) is not None:
            return record
        if not self.store.count_first(record, metric, at):
            return self._record(notification)  # another delivery of the event marked it first
        return record.model_copy(update={metric.record_field: at})

    def _record(self, notification: SesNotification) -> SendRecord | None:
        message_id = notification.message_id
        return self.store.get_send(message_id) if message_id else None

    def _event(
        self,
        name: str,
        notification: SesNotification,
        record: SendRecord | None,
        *,
        address: str,
        at: datetime,
        properties: dict[str, Any],
        event_key: str,
        user_agent: str | None = None,
        source_ip: str | None = None,
    ) -> TrackedEvent:
        message_id = notification.message_id or notification.mail.ses_message_id
        return ev.email_event(
            name,
            email=address,
            at=at,
            properties={**ev.send_properties(record, message_id), **properties},
            event_id=f"ses-{event_key}",
            user_agent=user_agent,
            source_ip=source_ip,
            received_at=max(self.now(), at),
        )

"""SES events through the SNS-subscribed handler on moto: bounces and complaints suppress, engagement and
delivery become events that the scoring stream will see, and a redelivered notification changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from email_support import (
    LambdaContext,
    events_named,
    person,
    raw_event,
    request,
    run_sender,
    send_record,
    ses_notification,
    template,
    unpaced,
)

from leadstream.events import TrackedEvent
from leadstream_local.lambda_events import sns_event
from leadstream_local.template import StackTemplate
from mail.sends import SendRequest, SendStatus
from mail.store.suppression import get_suppression
from mail.suppression import SuppressionReason

pytestmark = pytest.mark.usefixtures("unpaced")
__all__ = ["unpaced"]
Stored = Callable[[], list[TrackedEvent]]
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _deliver(stack: StackTemplate, notification: str, *, sns_id: str | None = None) -> Any:
    from handlers.email_events import lambda_handler

    topic = stack.physical["EmailEventsTopic"]["Ref"]
    event = sns_event(notification, topic_arn=topic, message_id=sns_id)
    return lambda_handler(event, LambdaContext(function_name="EmailEventsFunction"))  # type: ignore[arg-type]


@pytest.fixture
def sent(aws: StackTemplate) -> SendRequest:
    """An email that was sent to ada@example.com."""
    send = request(person("ada@example.com"), template())
    run_sender(raw_event([send]))
    return send


def test_a_hard_bounce_suppresses_the_address_and_is_recorded(
    aws: StackTemplate, sent: SendRequest, stored_events: Stored
) -> None:
    bounce = {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {"emailAddress": "ada@example.com", "diagnosticCode": "smtp; 550 no such user"}
        ],
        "timestamp": AT.isoformat(),
    }
    _deliver(
        aws,
        ses_notification("Bounce", message_id=sent.message_id, to="ada@example.com", at=AT, bounce=bounce),
    )

    entry = get_suppression("ada@example.com")
    assert entry is not None
    assert SuppressionReason.BOUNCED in entry.reasons
    assert entry.message_id == sent.message_id
    assert "550 no such user" in (entry.detail or "")
    (event,) = events_named(stored_events(), "Email Bounced")
    assert event.properties["permanent"] is True
    assert event.properties["email_id"] == sent.message_id
    assert event.properties["campaign_id"] == "cmp-1"
    assert event.email == "ada@example.com"
    assert send_record(sent.message_id).bounced_at is not None


def test_a_soft_bounce_is_recorded_but_does_not_suppress(
    aws: StackTemplate, sent: SendRequest, stored_events: Stored
) -> None:
    bounce = {
        "bounceType": "Transient",
        "bounceSubType": "MailboxFull",
        "bouncedRecipients": [{"emailAddress": "ada@example.com"}],
        "timestamp": AT.isoformat(),
    }
    _deliver(
        aws,
        ses_notification("Bounce", message_id=sent.message_id, to="ada@example.com", at=AT, bounce=bounce),
    )
    assert get_suppression("ada@example.com") is None
    (event,) = events_named(stored_events(), "Email Bounced")
    assert event.properties["permanent"] is False


def test_a_complaint_suppresses_the_address(
    aws: StackTemplate, sent: SendRequest, stored_events: Stored
) -> None:
    complaint = {
        "complainedRecipients": [{"emailAddress": "ada@example.com"}],
        "complaintFeedbackType": "abuse",
        "timestamp": AT.isoformat(),
    }
    notification = ses_notification(
        "Complaint", message_id=sent.message_id, to="ada@example.com", at=AT, complaint=complaint
    )
    _deliver(aws, notification)
    entry = get_suppression("ada@example.com")
    assert entry is not None
    assert SuppressionReason.COMPLAINED in entry.reasons
    assert len(events_named(stored_events(), "Email Marked as Spam")) == 1


def test_suppressed_by_a_complaint_means_no_further_email(aws: StackTemplate, sent: SendRequest) -> None:
    from email_support import ses_send_count

    complaint = {"complainedRecipients": [{"emailAddress": "ada@example.com"}], "timestamp": AT.isoformat()}
    _deliver(
        aws,
        ses_notification(
            "Complaint", message_id=sent.message_id, to="ada@example.com", at=AT, complaint=complaint
        ),
    )
    later = SendRequest.model_validate({**sent.model_dump(by_alias=True), "messageId": "msg-later"})
    run_sender(raw_event([later]))
    assert ses_send_count() == 1
    assert send_record("msg-later").reason == "suppressed:complained"


def test_opens_and_clicks_reported_by_ses_become_events(
    aws: StackTemplate, sent: SendRequest, stored_events: Stored
) -> None:
    later = datetime.now(UTC) + timedelta(minutes=5)
    human = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"
    opened = {"timestamp": later.isoformat(), "userAgent": human, "ipAddress": "198.51.100.7"}
    clicked = {**opened, "link": "https://example.com/pricing"}
    _deliver(
        aws, ses_notification("Open", message_id=sent.message_id, to="ada@example.com", at=AT, open=opened)
    )
    _deliver(
        aws, ses_notification("Click", message_id=sent.message_id, to="ada@example.com", at=AT, click=clicked)
    )

    stored = stored_events()
    (opened_event,) = events_named(stored, "Email Opened")
    (clicked_event,) = events_named(stored, "Email Link Clicked")
    assert opened_event.properties["scanner"] is False
    assert opened_event.properties["tracked_by"] == "ses"
    assert clicked_event.properties["link_url"] == "https://example.com/pricing"
    assert clicked_event.context["userAgent"] == human
    assert clicked_event.email == "ada@example.com"


def test_a_click_by_a_scanner_is_flagged(
    aws: StackTemplate, sent: SendRequest, stored_events: Stored
) -> None:
    just_sent = send_record(sent.message_id).sent_at + timedelta(seconds=2)
    clicked = {
        "timestamp": just_sent.isoformat(),
        "userAgent": "Mozilla/5.0",
        "link": "https://example.com/p",
    }
    _deliver(
        aws, ses_notification("Click", message_id=sent.message_id, to="ada@example.com", at=AT, click=clicked)
    )
    (event,) = events_named(stored_events(), "Email Link Clicked")
    assert event.properties["scanner"] is True
    assert event.properties["scanner_reason"].startswith("within")


def test_delivery_is_noted_and_recorded(aws: StackTemplate, sent: SendRequest, stored_events: Stored) -> None:
    delivery = {"timestamp": AT.isoformat(), "recipients": ["ada@example.com"], "smtpResponse": "250 ok"}
    _deliver(
        aws,
        ses_notification(
            "Delivery", message_id=sent.message_id, to="ada@example.com", at=AT, delivery=delivery
        ),
    )
    assert send_record(sent.message_id).delivered_at == AT
    assert len(events_named(stored_events(), "Email Delivered")) == 1


def test_the_send_event_confirms_a_claim_the_sender_did_not_record(aws: StackTemplate) -> None:
    from mail.sends import SendRecord
    from mail.store.sends import claim

    send = request(person(), template())
    claim(SendRecord.for_request(send, SendStatus.SENDING, AT, claimToken="t", claimedAt=AT), weekly_cap=3)
    _deliver(aws, ses_notification("Send", message_id=send.message_id, to="ada@example.com", at=AT, send={}))
    record = send_record(send.message_id)
    assert record.status is SendStatus.SENT
    assert record.ses_message_id


def test_a_redelivered_notification_is_stored_once(
    aws: StackTemplate, sent: SendRequest, stored_events: Stored
) -> None:
    delivery = {"timestamp": AT.isoformat(), "recipients": ["ada@example.com"]}
    notification = ses_notification(
        "Delivery", message_id=sent.message_id, to="ada@example.com", at=AT, delivery=delivery
    )
    for _ in range(3):
        _deliver(aws, notification, sns_id="sns-1")
    assert len(events_named(stored_events(), "Email Delivered")) == 1


def test_a_bounce_of_mail_we_did_not_tag_still_suppresses(aws: StackTemplate, stored_events: Stored) -> None:
    bounce = {
        "bounceType": "Permanent",
        "bouncedRecipients": [{"emailAddress": "Old@Example.com"}],
        "timestamp": AT.isoformat(),
    }
    _deliver(aws, ses_notification("Bounce", message_id=None, to="old@example.com", at=AT, bounce=bounce))
    assert get_suppression("old@example.com") is not None
    (event,) = events_named(stored_events(), "Email Bounced")
    assert event.properties["email_id"].startswith("ses-")


def test_a_message_that_is_not_an_ses_notification_is_dropped(
    aws: StackTemplate, stored_events: Stored
) -> None:
    assert _deliver(aws, json.dumps({"hello": "world"})) == {"handled": []}
    assert _deliver(aws, "not json") == {"handled": []}
    assert stored_events() == []


def test_identity_notifications_are_understood_too(aws: StackTemplate) -> None:
    """The older identity-notification format says notificationType instead of eventType."""
    bounce = {
        "bounceType": "Permanent",
        "bouncedRecipients": [{"emailAddress": "x@example.com"}],
        "timestamp": AT.isoformat(),
    }
    raw = json.loads(ses_notification("Bounce", message_id=None, to="x@example.com", at=AT, bounce=bounce))
    raw["notificationType"] = raw.pop("eventType")
    _deliver(aws, json.dumps(raw))
    assert get_suppression("x@example.com") is not None

"""SES event publishing, which moto does not do: every email moto's SES accepts produces the events SES
would publish to the SNS destinations of its configuration set.

The configuration set is the one the message names in its `X-SES-CONFIGURATION-SET` header (the sender
sets it, next to the API parameter that moto does not keep); a message without one publishes nothing, as
in SES. Events, in SES's event-publishing format (`eventType`, `mail` with headers and tags):

- Send, for every message;
- then per recipient what SES's mailbox simulator would answer: `bounce@simulator.amazonses.com` a
  permanent bounce, `suppressionlist@simulator.amazonses.com` a permanent bounce (on the suppression
  list), `complaint@simulator.amazonses.com` a delivery and a complaint; any other address a delivery.

Only the event types the destination subscribes (MatchingEventTypes) are published. Sent messages are
read from moto's SES backend, in this process (moto runs in-process), under the moto lock.
"""

from __future__ import annotations

import email
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from leadstream_local import embedded_aws
from leadstream_local.polling import POLL_INTERVAL, BackgroundPoller
from leadstream_local.template import ACCOUNT_ID, REGION, SesEventDestination

log = logging.getLogger("leadstream_local")

CONFIGURATION_SET_HEADER = "X-SES-CONFIGURATION-SET"
SIMULATOR_DOMAIN = "simulator.amazonses.com"
# SES event type (as published) -> its name in MatchingEventTypes.
EVENT_TYPE_NAMES = {"Send": "send", "Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint"}


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SesEventPublisher(BackgroundPoller):
    """Watches moto's sent messages; `poll_once` publishes the events of the ones not seen yet."""

    def __init__(
        self,
        destinations: Sequence[SesEventDestination],
        *,
        sns_client: Any,
        poll_interval: float = POLL_INTERVAL,
        account: str = ACCOUNT_ID,
        region: str = REGION,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__("SES event publisher", poll_interval)
        self._destinations = list(destinations)
        self._sns = sns_client
        self._account = account
        self._region = region
        # The stack's clock: SES stamps its events by the time the functions live in (deliveredAt and
        # the scanner window compare them with `leadstream.clock.now()`).
        self._now = now
        self._seen = 0

    def poll_once(self) -> bool:
        """Publish the events of messages sent since the last call. True when there were none."""
        from moto.ses.models import ses_backends

        with self._lock:
            started = time.monotonic()
            with embedded_aws.exclusive():  # not around the publishing: that is a call to moto too
                new = list(ses_backends[self._account][self._region].sent_messages[self._seen :])
            for message in new:
                self._publish_events(message)
                self._seen += 1
                self.activity += 1
            if not new:
                self.idle_cycle_started = started
            return not new

    # --- one message ---------------------------------------------------------------------------------
    def _publish_events(self, sent: Any) -> None:
        parsed = _parse(sent)
        configuration_set = str(parsed.get(CONFIGURATION_SET_HEADER, "")).strip()
        destinations = [d for d in self._destinations if d.configuration_set == configuration_set]
        if not destinations:
            return
        mail = self._mail(sent, parsed, configuration_set)
        events: list[tuple[str, dict[str, Any]]] = [("Send", {"send": {}})]
        for recipient in mail["destination"]:
            events.extend(self._outcome(recipient))
        for kind, body in events:
            notification = json.dumps({"eventType": kind, "mail": mail, **body})
            for destination in destinations:
                if EVENT_TYPE_NAMES[kind] in destination.event_types:
                    self._sns.publish(TopicArn=destination.topic_arn, Message=notification)

    def _mail(self, sent: Any, parsed: EmailMessage, configuration_set: str) -> dict[str, Any]:
        source = str(getattr(sent, "source", "") or parsed.get("From", ""))
        address = getaddresses([source])[0][1] if source else ""
        domain = address.partition("@")[2]
        # moto adds the message's To/Cc addresses to the API's destinations: the same recipient twice.
        recipients = list(dict.fromkeys(address for _, address in getaddresses(_recipients(sent))))
        # SES removes its X-SES-* headers before sending, and from what it reports.
        headers = [
            {"name": name, "value": str(value)}
            for name, value in parsed.items()
            if not name.lower().startswith("x-ses-")
        ]
        return {
            "timestamp": _timestamp(self._now()),
            "source": source,
            "sourceArn": f"arn:aws:ses:{self._region}:{self._account}:identity/{domain or address}",
            "sendingAccountId": self._account,
            "messageId": str(sent.id),
            "destination": recipients,
            "headersTruncated": False,
            "headers": headers,
            "commonHeaders": {
                "from": [str(parsed.get("From", source))],
                "to": [str(value) for value in parsed.get_all("To", [])] or recipients,
                "messageId": str(sent.id),
                "subject": str(parsed.get("Subject", "")),
            },
            "tags": {
                "ses:configuration-set": [configuration_set],
                "ses:source-ip": ["127.0.0.1"],
                "ses:from-domain": [domain],
                "ses:caller-identity": ["local"],
            },
        }

    def _outcome(self, recipient: str) -> list[tuple[str, dict[str, Any]]]:
        local, _, domain = recipient.lower().partition("@")
        feedback_id = f"local-{uuid.uuid4()}"
        if domain == SIMULATOR_DOMAIN and local in ("bounce", "suppressionlist"):
            bounce = {
                "bounceType": "Permanent",
                "bounceSubType": "General" if local == "bounce" else "OnAccountSuppressionList",
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": _timestamp(self._now()),
                "feedbackId": feedback_id,
                "reportingMTA": "dns; local.leadstream",
            }
            return [("Bounce", {"bounce": bounce})]
        delivery = {
            "timestamp": _timestamp(self._now()),
            "processingTimeMillis": 1,
            "recipients": [recipient],
            "smtpResponse": "250 2.0.0 OK (local stack)",
            "reportingMTA": "local.leadstream",
        }
        events: list[tuple[str, dict[str, Any]]] = [("Delivery", {"delivery": delivery})]
        if domain == SIMULATOR_DOMAIN and local == "complaint":
            complaint = {
                "complainedRecipients": [{"emailAddress": recipient}],
                "complaintFeedbackType": "abuse",
                "timestamp": _timestamp(self._now()),
                "feedbackId": feedback_id,
            }
            events.append(("Complaint", {"complaint": complaint}))
        return events


def _parse(sent: Any) -> EmailMessage:
    """A sent message as MIME: a raw message as it was, a simple one rebuilt from its parts."""
    raw = getattr(sent, "raw_data", None)
    if raw is not None:
        return email.message_from_string(raw, policy=policy.default)
    message = EmailMessage()
    message["From"] = str(sent.source)
    message["Subject"] = str(getattr(sent, "subject", ""))
    message["To"] = ", ".join(_recipients(sent))
    message.set_content(str(getattr(sent, "body", "")))
    return message


def _recipients(sent: Any) -> list[str]:
    destinations = getattr(sent, "destinations", [])
    if isinstance(destinations, dict):  # a simple message: {"ToAddresses": [...], "CcAddresses": ...}
        return [address for addresses in destinations.values() for address in addresses]
    return [str(address) for address in destinations]

"""One marketing email to one person: the request on the send queue, and the record of what became of it.

The producer (a campaign or journey step) derives the message id from what the email is for
(`message_id_for`), so a step that runs twice enqueues the same id and the sender sends it once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, ConfigDict, Field

from leadstream.consents import TOPIC_ID_PATTERN
from leadstream.models import Model
from leadstream.profiles import UtcTime

# Ids go into keys, link tokens, a mail header and log lines: a small alphabet keeps all of them simple.
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"
MESSAGE_NAMESPACE = uuid.UUID("1d6a4c0e-8f1b-5b7e-9a3d-5c2e7f0b4a61")


def message_id_for(*parts: str) -> str:
    """A deterministic message id for what an email is for, e.g. (campaign id, step id, profile id)."""
    return str(uuid.uuid5(MESSAGE_NAMESPACE, "\x1f".join(parts)))


class SendRequest(Model):
    """The body of one send-queue message: who gets which template version, and why."""

    # defer_build (on every model here): validators are built on first use, not at import; the
    # email API imports these models for its route declarations (docs/api.md, "Cold start").
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid", frozen=True)

    message_id: str = Field(alias="messageId", pattern=MESSAGE_ID_PATTERN)
    template_id: str = Field(alias="templateId", min_length=1, max_length=100)
    template_version: int = Field(alias="templateVersion", ge=1)
    profile_id: str = Field(alias="profileId", min_length=1, max_length=200)
    # Defaults to the profile's email address at sending time.
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    campaign_id: str | None = Field(default=None, alias="campaignId", max_length=200)
    journey_id: str | None = Field(default=None, alias="journeyId", max_length=200)
    step_id: str | None = Field(default=None, alias="stepId", max_length=200)
    # The A/B variant of a campaign this email is ("A", "B", ...): reports count per variant.
    variant: str | None = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")
    # The subscription topic it is about: a person who opted out of it is skipped (none: only the
    # person's `email` consent and the suppression list apply, as before topics existed).
    topic_id: str | None = Field(default=None, alias="topicId", pattern=TOPIC_ID_PATTERN)


class SendStatus(StrEnum):
    SENDING = "sending"  # claimed: SES is being (or was just) asked to send
    RETRY = "retry"  # SES refused for now (throttled, paused): not sent, the queue retries
    SENT = "sent"  # SES accepted it
    SKIPPED = "skipped"  # deliberately not sent: suppressed, over the weekly cap, no address
    FAILED = "failed"  # cannot be sent: the template does not render, SES rejected the message


FINAL_STATUSES = frozenset({SendStatus.SENT, SendStatus.SKIPPED, SendStatus.FAILED})


class SkipReason(StrEnum):
    SUPPRESSED = "suppressed"
    FREQUENCY_CAP = "frequency_cap"
    NO_PROFILE = "no_profile"
    NO_EMAIL = "no_email"
    NO_CONSENT = "consent"  # declined `email`, or opted out of the topic: `consent:<purpose>`


class SendRecord(Model):
    """The `SEND#<messageId>` item: the claim, the outcome, and what SES and the recipient did with it."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    message_id: str = Field(alias="messageId")
    status: SendStatus
    reason: str | None = None
    profile_id: str = Field(alias="profileId")
    email: str | None = None
    template_id: str = Field(alias="templateId")
    template_version: int = Field(alias="templateVersion")
    campaign_id: str | None = Field(default=None, alias="campaignId")
    journey_id: str | None = Field(default=None, alias="journeyId")
    step_id: str | None = Field(default=None, alias="stepId")
    variant: str | None = None
    topic_id: str | None = Field(default=None, alias="topicId")
    subject: str | None = None
    claim_token: str | None = Field(default=None, alias="claimToken")
    claimed_at: UtcTime | None = Field(default=None, alias="claimedAt")
    attempts: int = 0
    ses_message_id: str | None = Field(default=None, alias="sesMessageId")
    sent_at: UtcTime | None = Field(default=None, alias="sentAt")
    delivered_at: UtcTime | None = Field(default=None, alias="deliveredAt")
    bounced_at: UtcTime | None = Field(default=None, alias="bouncedAt")
    complained_at: UtcTime | None = Field(default=None, alias="complainedAt")
    # First human (not scanner) open and click, the unsubscribe and the conversion: each set once, in the
    # same transaction that counts it in the report (mail.store.reports).
    opened_at: UtcTime | None = Field(default=None, alias="openedAt")
    clicked_at: UtcTime | None = Field(default=None, alias="clickedAt")
    unsubscribed_at: UtcTime | None = Field(default=None, alias="unsubscribedAt")
    converted_at: UtcTime | None = Field(default=None, alias="convertedAt")
    updated_at: UtcTime = Field(alias="updatedAt")

    @classmethod
    def for_request(
        cls, request: SendRequest, status: SendStatus, at: datetime, **fields: object
    ) -> SendRecord:
        return cls.model_validate(
            {
                **request.model_dump(by_alias=True, exclude_none=True),
                "status": status,
                "updatedAt": at,
                **fields,
            }
        )

    def claim_expired(self, now: AwareDatetime, lease_seconds: int) -> bool:
        return self.claimed_at is None or (now - self.claimed_at).total_seconds() >= lease_seconds

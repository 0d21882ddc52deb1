"""The suppression list, and the one rule about it: marketing email never goes to a suppressed address.

An address is suppressed for one or more reasons, each recorded once with when it first happened. Every
marketing send asks `blocks_marketing`; nothing else decides who may not get email.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from leadstream.models import Model


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"  # the person asked (unsubscribe link, one-click, manual request)
    BOUNCED = "bounced"  # a hard (permanent) bounce: the address does not exist
    COMPLAINED = "complained"  # the person marked our email as spam
    MANUAL = "manual"  # marketing put it on the list (a role address, a legal request, a competitor)


def normalize_email(email: str) -> str:
    """Addresses are compared lower-cased and trimmed, as identities are."""
    return email.strip().lower()


class Suppression(Model):
    """One address on the list. `reasons` maps each reason to when it was first recorded."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    email: str
    reasons: dict[SuppressionReason, AwareDatetime] = Field(default_factory=dict)
    # The email (our message id) that led to it, when there was one: unsubscribe link, bounce, complaint.
    message_id: str | None = Field(default=None, alias="messageId")
    detail: str | None = None

    @field_validator("email")
    @classmethod
    def _normalized(cls, value: str) -> str:
        return normalize_email(value)

    @property
    def first_reason(self) -> SuppressionReason | None:
        return min(self.reasons, key=lambda reason: self.reasons[reason]) if self.reasons else None

    @property
    def since(self) -> datetime | None:
        return min(self.reasons.values()) if self.reasons else None


def blocks_marketing(suppression: Suppression | None) -> bool:
    """THE rule: never send marketing email to an unsubscribed, bounced, complained or suppressed address.

    Any reason suppresses; an address leaves the list only when its last reason is removed (only a manual
    entry can be removed through the API: an unsubscribe or complaint is the person's word).
    """
    return suppression is not None and bool(suppression.reasons)

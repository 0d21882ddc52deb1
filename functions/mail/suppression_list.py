"""The suppression list as marketing sees it: look an address up, add it by hand, take a manual entry off.

Only the `manual` reason can be removed here: an unsubscribe or a complaint is the person's own word,
and a hard bounce is the receiving server's.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from pydantic import AwareDatetime, ConfigDict, Field

from leadstream import clock
from leadstream.errors import InvalidInput, NotFound
from leadstream.models import Model
from mail.store.suppression import get_suppression, remove_reason, suppress
from mail.suppression import Suppression, SuppressionReason, normalize_email

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class ManualSuppression(Model):
    """The body of PUT /marketing/suppressions/{email} (optional): why it is on the list."""

    # defer_build (on every model here): validators are built on first use, not at import; the
    # email API imports these models for its route declarations (docs/api.md, "Cold start").
    model_config = ConfigDict(defer_build=True, extra="forbid")

    detail: str | None = Field(default=None, max_length=1000)


class SuppressionEntry(Model):
    """An address and why it is on the suppression list (`suppressed` false: it no longer is)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    email: str
    suppressed: bool
    reasons: dict[SuppressionReason, AwareDatetime] = Field(description="each reason, and when it began")
    message_id: str | None = Field(default=None, alias="messageId", description="the email that led to it")
    detail: str | None = None

    @classmethod
    def of(cls, entry: Suppression) -> SuppressionEntry:
        return cls(
            email=entry.email,
            suppressed=bool(entry.reasons),
            reasons=entry.reasons,
            message_id=entry.message_id,
            detail=entry.detail,
        )


def address(raw: str) -> str:
    email = normalize_email(unquote(raw))
    if len(email) > 320 or not re.match(EMAIL_PATTERN, email):
        raise InvalidInput(
            f"{raw!r} is not an email address.",
            errors=[{"field": "email", "message": "not an email address"}],
        )
    return email


def lookup(raw: str) -> Suppression:
    email = address(raw)
    entry = get_suppression(email)
    if entry is None:
        raise NotFound(f"{email} is not on the suppression list.")
    return entry


def add_manual(raw: str, body: ManualSuppression, *, user: str) -> Suppression:
    email = address(raw)
    detail = body.detail or f"added by {user}"
    suppress(email, SuppressionReason.MANUAL, clock.now(), detail=detail)
    entry = get_suppression(email)
    assert entry is not None
    return entry


def remove_manual(raw: str) -> Suppression:
    email = address(raw)
    entry = remove_reason(email, SuppressionReason.MANUAL, clock.now())
    if entry is None:
        raise NotFound(f"{email} is not on the suppression list.")
    return entry

"""Quotes: priced offers to an account, with revisions and a status state machine.

    draft --send--> sent --accept--> accepted   (becomes an order)
                         --reject--> rejected
                         --expire--> expired

A draft is edited in place. A sent quote is immutable: the customer holds it. Editing it keeps the sent
text as a read-only revision and continues as the next revision, a draft, that must be sent again. Only
the current revision can be accepted, rejected or expired. Accepted, rejected and expired are final.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, Field

from crm.api.models import CrmInput, LongText, Name, RecordId, UserId
from crm.commerce.money import Currency
from crm.commerce.pricing import MAX_LINES, Line, LineInput, Totals, totals
from crm.commerce.states import InvalidTransition, StateMachine
from crm.records import CrmRecord
from leadstream.errors import InvalidInput
from leadstream.profiles import UtcTime


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


QUOTE_STATUS = StateMachine[QuoteStatus](
    "quote",
    {
        QuoteStatus.DRAFT: frozenset({QuoteStatus.SENT}),
        QuoteStatus.SENT: frozenset({QuoteStatus.ACCEPTED, QuoteStatus.REJECTED, QuoteStatus.EXPIRED}),
    },
)


class QuoteInput(CrmInput):
    """A new quote. Lines with a `productId` and no `unitPrice` take the price book's price."""

    name: Name
    account_id: RecordId = Field(alias="accountId")
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    deal_id: RecordId | None = Field(default=None, alias="dealId")
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="default: the creator")
    currency: Currency
    valid_until: date = Field(alias="validUntil", description="the last day the customer may accept")
    lines: list[LineInput] = Field(default_factory=list, max_length=MAX_LINES)
    terms: LongText | None = None


class QuoteChanges(CrmInput):
    """A PATCH of a quote: only the fields sent change (null removes an optional one); `lines` replaces
    every line. Editing a sent quote makes its next revision."""

    name: Name | None = None
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    deal_id: RecordId | None = Field(default=None, alias="dealId")
    owner_id: UserId | None = Field(default=None, alias="ownerId")
    currency: Currency | None = None
    valid_until: date | None = Field(default=None, alias="validUntil")
    lines: list[LineInput] | None = Field(default=None, max_length=MAX_LINES)
    terms: LongText | None = None


class QuoteTransition(CrmInput):
    status: QuoteStatus = Field(description="the status to move to")
    reason: LongText | None = Field(default=None, description="why (a rejection's reason, say)")


class Quote(CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    quote_id: RecordId = Field(alias="quoteId")
    revision: int = Field(default=1, ge=1, description="grows when a sent quote is edited")
    status: QuoteStatus = QuoteStatus.DRAFT
    name: str
    account_id: str = Field(alias="accountId")
    contact_id: str | None = Field(default=None, alias="contactId")
    deal_id: str | None = Field(default=None, alias="dealId")
    owner_id: str = Field(alias="ownerId")
    currency: str
    valid_until: date = Field(alias="validUntil")
    lines: list[Line] = Field(default_factory=list)
    totals: Totals
    terms: str | None = None
    status_reason: str | None = Field(default=None, alias="statusReason")
    sent_at: UtcTime | None = Field(default=None, alias="sentAt")
    decided_at: UtcTime | None = Field(default=None, alias="decidedAt")
    order_id: str | None = Field(default=None, alias="orderId", description="the order it became")

    @property
    def total(self) -> Decimal:
        return self.totals.total


def new_quote(data: QuoteInput, lines: list[Line], *, quote_id: str, owner_id: str, now: datetime) -> Quote:
    return Quote(
        created_at=now,
        updated_at=now,
        quote_id=quote_id,
        name=data.name,
        account_id=data.account_id,
        contact_id=data.contact_id,
        deal_id=data.deal_id,
        owner_id=data.owner_id or owner_id,
        currency=data.currency,
        valid_until=data.valid_until,
        lines=lines,
        totals=totals(lines, data.currency),
        terms=data.terms,
    )


def order_id_for_quote(quote_id: str) -> str:
    """The id of the order a quote becomes: one quote, at most one order, however often it is accepted."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadstream:order-of-quote:{quote_id}"))


class QuoteLocked(InvalidTransition):
    """An edit of a quote whose status forbids edits."""


def edit(quote: Quote, changes: QuoteChanges, lines: list[Line] | None) -> tuple[Quote, Quote | None]:
    """The edited quote and, when the edit started a new revision, the sent revision to keep as it was.

    `lines` are `changes.lines` priced in the quote's (possibly new) currency, or None if unchanged.
    """
    if quote.status not in {QuoteStatus.DRAFT, QuoteStatus.SENT}:
        raise QuoteLocked(
            f"This quote is {quote.status.value}, which is final: it cannot be edited. "
            "Create a new quote instead.",
            errors=[{"field": "status", "message": f"edits need draft or sent, not {quote.status.value}"}],
        )
    currency = changes.currency or quote.currency
    if currency != quote.currency and lines is None and quote.lines:
        raise InvalidInput(
            "Changing the currency changes every price: send the lines again with the new currency.",
            errors=[{"field": "lines", "message": f"required when the currency changes to {currency}"}],
        )
    updates = changes.model_dump(exclude_unset=True, exclude={"lines"})
    if lines is not None:
        updates |= {"lines": lines, "totals": totals(lines, currency)}
    # Validated again, so an explicit null for a required field is a 422, not a broken stored quote.
    edited = type(quote).model_validate(quote.model_dump() | updates)
    if quote.status is QuoteStatus.DRAFT:
        return edited, None
    next_revision = edited.model_copy(
        update={"revision": quote.revision + 1, "status": QuoteStatus.DRAFT, "sent_at": None}
    )
    return next_revision, quote


def transition(
    quote: Quote, target: QuoteStatus, *, today: date, now: datetime, reason: str | None = None
) -> Quote:
    """The quote moved to `target`, if its state machine and its content allow it."""
    QUOTE_STATUS.check(quote.status, target)
    if target is QuoteStatus.SENT and not quote.lines:
        raise InvalidInput("A quote needs at least one line before it can be sent.")
    if target is QuoteStatus.SENT and quote.valid_until < today:
        raise InvalidInput(
            f"This quote was valid until {quote.valid_until}: set a later validUntil before sending it.",
            errors=[{"field": "validUntil", "message": "must be today or later to send the quote"}],
        )
    if target is QuoteStatus.ACCEPTED and quote.valid_until < today:
        raise InvalidTransition(
            f"This quote was valid until {quote.valid_until}, so it can no longer be accepted; "
            "mark it expired, or edit it (a new revision with a later validUntil) and send it again.",
            errors=[{"field": "status", "message": "allowed from sent after validUntil: expired, rejected"}],
        )
    stamps: dict[str, object] = {"sent_at": now} if target is QuoteStatus.SENT else {"decided_at": now}
    if target is QuoteStatus.ACCEPTED:
        stamps["order_id"] = order_id_for_quote(quote.quote_id)
    return quote.model_copy(update={"status": target, "status_reason": reason, **stamps})

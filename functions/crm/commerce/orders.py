"""Orders: an accepted quote becomes an order; an order may be repeated (copied) and may create a contract.

    confirmed --fulfil--> fulfilled
              --cancel--> cancelled     (both final)

An order's id is derived from its quote's id, so accepting a quote (or retrying the acceptance) can only
ever create one order for it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from crm.api.models import CrmInput, LongText, Name, RecordId
from crm.commerce.pricing import Line, Totals, reprice, totals
from crm.commerce.quotes import Quote, order_id_for_quote
from crm.commerce.states import StateMachine
from crm.records import CrmRecord
from leadstream.profiles import UtcTime


class OrderStatus(StrEnum):
    CONFIRMED = "confirmed"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


ORDER_STATUS = StateMachine[OrderStatus](
    "order", {OrderStatus.CONFIRMED: frozenset({OrderStatus.FULFILLED, OrderStatus.CANCELLED})}
)


class Order(CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    order_id: RecordId = Field(alias="orderId")
    status: OrderStatus = OrderStatus.CONFIRMED
    name: str
    account_id: str = Field(alias="accountId")
    contact_id: str | None = Field(default=None, alias="contactId")
    deal_id: str | None = Field(default=None, alias="dealId")
    owner_id: str = Field(alias="ownerId")
    currency: str
    lines: list[Line]
    totals: Totals
    terms: str | None = None
    quote_id: str | None = Field(default=None, alias="quoteId")
    quote_revision: int | None = Field(default=None, alias="quoteRevision")
    repeat_of: str | None = Field(default=None, alias="repeatOf")
    status_reason: str | None = Field(default=None, alias="statusReason")
    fulfilled_at: UtcTime | None = Field(default=None, alias="fulfilledAt")
    cancelled_at: UtcTime | None = Field(default=None, alias="cancelledAt")
    contract_id: str | None = Field(default=None, alias="contractId")


class OrderTransition(CrmInput):
    status: OrderStatus = Field(description="the status to move to")
    reason: LongText | None = Field(default=None, description="why (a cancellation's reason, say)")


class RepeatOrderInput(CrmInput):
    """A repeat order copies every line of the original; it may have its own name, contact or deal."""

    name: Name | None = None
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    deal_id: RecordId | None = Field(default=None, alias="dealId")


def order_from_quote(quote: Quote, *, now: datetime) -> Order:
    """The order an accepted quote becomes: its lines and totals exactly as the customer accepted them."""
    return Order(
        created_at=now,
        updated_at=now,
        order_id=order_id_for_quote(quote.quote_id),
        name=quote.name,
        account_id=quote.account_id,
        contact_id=quote.contact_id,
        deal_id=quote.deal_id,
        owner_id=quote.owner_id,
        currency=quote.currency,
        lines=list(quote.lines),
        totals=quote.totals,
        terms=quote.terms,
        quote_id=quote.quote_id,
        quote_revision=quote.revision,
    )


def repeat_order(
    original: Order, changes: RepeatOrderInput, *, order_id: str, owner_id: str, now: datetime
) -> Order:
    """A new confirmed order with the original's lines at the original's prices, recomputed line by line."""
    lines = [reprice(line, original.currency) for line in original.lines]
    return Order(
        created_at=now,
        updated_at=now,
        order_id=order_id,
        name=changes.name or original.name,
        account_id=original.account_id,
        contact_id=changes.contact_id or original.contact_id,
        deal_id=changes.deal_id or original.deal_id,
        owner_id=owner_id,
        currency=original.currency,
        lines=lines,
        totals=totals(lines, original.currency),
        terms=original.terms,
        repeat_of=original.order_id,
    )


def transition(order: Order, target: OrderStatus, *, now: datetime, reason: str | None = None) -> Order:
    ORDER_STATUS.check(order.status, target)
    stamp = "fulfilled_at" if target is OrderStatus.FULFILLED else "cancelled_at"
    return order.model_copy(update={"status": target, "status_reason": reason, stamp: now})

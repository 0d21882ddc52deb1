"""Support tickets: a customer's case, owned by a rep, linked to an account and/or a contact.

    new ------> open <------> pending          (pending: waiting for the customer)
     |           |               |
     +---------> resolved <------+ ---> closed  (closed is final; a resolved ticket may reopen)

Any open state may also be closed directly (a duplicate, spam). Sales and admin write tickets; marketing
reads them (a person's whole history includes their support cases), as it reads accounts and contacts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sales.commerce.states import StateMachine


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


_ANY_OPEN = {TicketStatus.RESOLVED, TicketStatus.CLOSED}
TICKET_STATUS = StateMachine[TicketStatus](
    "ticket",
    {
        TicketStatus.NEW: frozenset({TicketStatus.OPEN, TicketStatus.PENDING, *_ANY_OPEN}),
        TicketStatus.OPEN: frozenset({TicketStatus.PENDING, *_ANY_OPEN}),
        TicketStatus.PENDING: frozenset({TicketStatus.OPEN, *_ANY_OPEN}),
        TicketStatus.RESOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    },
)


class TicketInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    subject: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    priority: TicketPriority = TicketPriority.NORMAL
    account_id: str | None = Field(default=None, alias="accountId", min_length=1, max_length=64)
    contact_id: str | None = Field(default=None, alias="contactId", min_length=1, max_length=64)
    owner_id: str | None = Field(default=None, alias="ownerId", min_length=1, max_length=128)

    @model_validator(mode="after")
    def _linked(self) -> Self:
        if not (self.account_id or self.contact_id):
            raise ValueError("a ticket needs an accountId, a contactId or both")
        return self


class TicketChanges(BaseModel):
    """A PATCH: subject, description, priority, owner. Status changes go through the transition route."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    subject: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    priority: TicketPriority | None = None
    owner_id: str | None = Field(default=None, alias="ownerId", min_length=1, max_length=128)


class TicketTransition(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    status: TicketStatus
    resolution: str | None = Field(default=None, max_length=20_000, description="what solved it")


class Ticket(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    ticket_id: str = Field(alias="ticketId")
    subject: str
    description: str | None = None
    status: TicketStatus = TicketStatus.NEW
    priority: TicketPriority = TicketPriority.NORMAL
    account_id: str | None = Field(default=None, alias="accountId")
    contact_id: str | None = Field(default=None, alias="contactId")
    owner_id: str = Field(alias="ownerId")
    resolution: str | None = None
    resolved_at: AwareDatetime | None = Field(default=None, alias="resolvedAt")
    closed_at: AwareDatetime | None = Field(default=None, alias="closedAt")


def new_ticket(data: TicketInput, *, ticket_id: str, caller_id: str) -> Ticket:
    """A new ticket, owned by the caller unless it names another owner."""
    return Ticket(
        ticket_id=ticket_id,
        subject=data.subject,
        description=data.description,
        priority=data.priority,
        account_id=data.account_id,
        contact_id=data.contact_id,
        owner_id=data.owner_id or caller_id,
    )


def edit(ticket: Ticket, changes: TicketChanges) -> Ticket:
    return Ticket.model_validate(ticket.model_dump() | changes.model_dump(exclude_unset=True))


def transition(ticket: Ticket, move: TicketTransition, *, now: datetime) -> Ticket:
    TICKET_STATUS.check(ticket.status, move.status)
    updates: dict[str, object] = {"status": move.status}
    if move.resolution is not None:
        updates["resolution"] = move.resolution
    if move.status is TicketStatus.RESOLVED:
        updates["resolved_at"] = now
    elif move.status is TicketStatus.CLOSED:
        updates["closed_at"] = now
    elif move.status is TicketStatus.OPEN:
        updates |= {"resolved_at": None}  # reopened: no longer resolved
    return ticket.model_copy(update=updates)

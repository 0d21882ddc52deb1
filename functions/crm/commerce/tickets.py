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

from pydantic import ConfigDict, Field, model_validator

from crm.api.models import CrmInput, LongText, Name, RecordId, UserId
from crm.commerce.states import StateMachine
from crm.records import CrmRecord
from leadstream.profiles import UtcTime


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


class TicketFields(CrmInput):
    subject: Name
    description: LongText | None = None
    priority: TicketPriority = TicketPriority.NORMAL
    account_id: RecordId | None = Field(default=None, alias="accountId")
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="default: the creator")

    @model_validator(mode="after")
    def _linked(self) -> Self:
        if not (self.account_id or self.contact_id):
            raise ValueError("a ticket needs an accountId, a contactId or both")
        return self


class TicketChanges(CrmInput):
    """A PATCH: null removes an optional field. Status changes go through POST .../status."""

    subject: Name | None = None
    description: LongText | None = None
    priority: TicketPriority | None = None
    account_id: RecordId | None = Field(default=None, alias="accountId")
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    owner_id: UserId | None = Field(default=None, alias="ownerId")


class TicketTransition(CrmInput):
    status: TicketStatus = Field(description="the status to move to")
    resolution: LongText | None = Field(default=None, description="what solved it")


class Ticket(TicketFields, CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    ticket_id: RecordId = Field(alias="ticketId")
    owner_id: UserId = Field(alias="ownerId")
    status: TicketStatus = TicketStatus.NEW
    resolution: str | None = None
    resolved_at: UtcTime | None = Field(default=None, alias="resolvedAt")
    closed_at: UtcTime | None = Field(default=None, alias="closedAt")


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

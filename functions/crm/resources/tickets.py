"""Tickets: support cases. Sales and admin write them; marketing reads them, as it reads the accounts and
contacts they belong to (a person's whole history includes their support cases). Status changes go
through their state machine (crm.commerce.tickets), not through PATCH."""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import Field

from crm.api.framework import RecordIdPath, Resource, referenced, register_resource
from crm.api.models import RecordId, UserId
from crm.commerce import tickets
from crm.commerce.tickets import (
    Ticket,
    TicketChanges,
    TicketFields,
    TicketPriority,
    TicketStatus,
    TicketTransition,
)
from crm.records import RecordType
from crm.resources.accounts import ACCOUNT
from crm.resources.contacts import CONTACT
from leadstream import clock
from leadstream.api import ETAG_HEADER, Api, IfMatch, ListParams, versioned_response
from leadstream.auth import CRM_PEOPLE_READ, CRM_WRITE, Principal


class TicketQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's tickets; `me`")
    account_id: RecordId | None = Field(default=None, alias="accountId", description="an account's tickets")
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


TICKET = RecordType(
    kind="ticket",
    plural="tickets",
    model=Ticket,
    id_field="ticket_id",
    title_field="subject",
    timeline_fields=("status", "priority"),
)


def prepare(ticket: Ticket, before: Ticket | None, principal: Principal) -> Ticket:
    """The account and contact must exist (checked when they change), and one of them must be set."""
    wanted: dict[str, tuple[RecordType[Any], str | None]] = {}
    if ticket.account_id and (before is None or before.account_id != ticket.account_id):
        wanted["accountId"] = (ACCOUNT, ticket.account_id)
    if ticket.contact_id and (before is None or before.contact_id != ticket.contact_id):
        wanted["contactId"] = (CONTACT, ticket.contact_id)
    referenced(wanted)
    return ticket


TICKETS = Resource(
    record=TICKET,
    create_model=TicketFields,
    patch_model=TicketChanges,
    query_model=TicketQuery,
    read=CRM_PEOPLE_READ,
    write=CRM_WRITE,
    tag="tickets",
    prepare=prepare,
    operations=frozenset({"list", "create", "get", "patch", "history"}),
)


def register(api: Api) -> None:
    register_resource(api, TICKETS)

    @api.route(
        "POST",
        "/crm/tickets/<record_id>/status",
        policy=CRM_WRITE,
        summary="Move a ticket to another status (resolved with its resolution, reopened, closed)",
        tag="tickets",
        problems=[404, 409, 412],
        headers=ETAG_HEADER,
    )
    def change_ticket_status(
        record_id: RecordIdPath, body: TicketTransition, if_match: IfMatch = None
    ) -> Response[Ticket]:
        principal = api.principal()
        before: Ticket = TICKETS.get_for_action(record_id, principal, if_match)
        moved = tickets.transition(before, body, now=clock.now())
        after: Ticket = TICKETS.save(before, moved, principal, action=body.status.value)
        return versioned_response(after, after.version)

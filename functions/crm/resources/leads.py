"""Leads: people handed to sales by scoring (at MQL) or entered by a rep, worked until they are accepted
(sales-qualified) and converted, or rejected, or disqualified.

    new <-> working --accept--> accepted --convert--> converted
        \\--reject (back to marketing's nurture) / disqualify (not a buyer): both leave every sales view

Accepting, rejecting and disqualifying move the person's lifecycle stage too; crm.lifecycle stores
the lead, its profile and the lead's history entry in one transaction. Sales never sees a lead outside
crm.leads.SALES_VISIBLE: such a lead is in no sales list (its index entries are gone) and reading
it by id is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import Field, model_validator

from crm import lifecycle
from crm.api.framework import RecordIdPath, Resource, register_resource
from crm.api.models import CountryCode, CrmInput, Email, Phone, ShortText, UserId
from crm.lead_record import LEAD
from crm.leads import Lead, LeadOrigin, LeadStatus
from leadstream.api import Api, IfMatch, ListParams, versioned_response
from leadstream.auth import CRM_WRITE, Principal
from leadstream.errors import Conflict

# Statuses a rep may set with PATCH while working a lead; the others are reached by actions only.
WORKING_STATUSES = frozenset({LeadStatus.NEW, LeadStatus.WORKING})


class LeadInput(CrmInput):
    """A lead entered by hand."""

    email: Email | None = None
    first_name: ShortText | None = Field(default=None, alias="firstName")
    last_name: ShortText | None = Field(default=None, alias="lastName")
    company: ShortText | None = None
    title: ShortText | None = None
    phone: Phone | None = None
    country: CountryCode | None = None
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="default: the creator")

    @model_validator(mode="after")
    def _someone(self) -> LeadInput:
        if not (self.email or self.last_name):
            raise ValueError("a lead needs an email or a last name")
        return self


class LeadChanges(CrmInput):
    email: Email | None = None
    first_name: ShortText | None = Field(default=None, alias="firstName")
    last_name: ShortText | None = Field(default=None, alias="lastName")
    company: ShortText | None = None
    title: ShortText | None = None
    phone: Phone | None = None
    country: CountryCode | None = None
    owner_id: UserId | None = Field(default=None, alias="ownerId")
    status: Literal["new", "working"] | None = Field(
        default=None, description="while the lead is worked; accept, reject, disqualify, convert are actions"
    )


class LeadQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's leads; `me`")
    status: LeadStatus | None = None
    origin: LeadOrigin | None = None
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


class Reason(CrmInput):
    reason: ShortText = Field(min_length=1, description="why: shown to marketing and in the history")


def prepare(lead: Lead, before: Lead | None, principal: Principal) -> Lead:
    if before is not None and lead.status != before.status and before.status not in WORKING_STATUSES:
        raise Conflict(f"The lead is {before.status.value}; its status changes only by its actions now.")
    return lead


LEADS = Resource(
    record=LEAD,
    create_model=LeadInput,
    patch_model=LeadChanges,
    query_model=LeadQuery,
    read=CRM_WRITE,
    write=CRM_WRITE,
    tag="leads",
    prepare=prepare,
    defaults={"origin": LeadOrigin.MANUAL.value, "status": LeadStatus.NEW.value},
)


def register(api: Api) -> None:
    register_resource(api, LEADS)

    @api.route(
        "POST",
        "/crm/leads/<record_id>/accept",
        policy=CRM_WRITE,
        summary="Accept a lead: sales-qualified (its person's stage becomes SQL)",
        tag="leads",
        problems=[404, 409, 412],
        headers={"ETag": {"description": "the lead's new version", "schema": {"type": "string"}}},
    )
    def accept_lead(record_id: RecordIdPath, if_match: IfMatch = None) -> Response[Lead]:
        return lifecycle_action(api, record_id, if_match, lifecycle.accept_lead)

    @api.route(
        "POST",
        "/crm/leads/<record_id>/reject",
        policy=CRM_WRITE,
        summary="Reject a lead: back to marketing's nurture, out of every sales view",
        tag="leads",
        problems=[404, 409, 412],
    )
    def reject_lead(record_id: RecordIdPath, body: Reason, if_match: IfMatch = None) -> Response[Lead]:
        return lifecycle_action(api, record_id, if_match, partial(lifecycle.reject_lead, reason=body.reason))

    @api.route(
        "POST",
        "/crm/leads/<record_id>/disqualify",
        policy=CRM_WRITE,
        summary="Disqualify a lead (not a buyer): out of every sales view, its person's stage becomes other",
        tag="leads",
        problems=[404, 409, 412],
    )
    def disqualify_lead(record_id: RecordIdPath, body: Reason, if_match: IfMatch = None) -> Response[Lead]:
        return lifecycle_action(
            api, record_id, if_match, partial(lifecycle.disqualify_lead, reason=body.reason)
        )


def lifecycle_action(
    api: Api, record_id: str, if_match: str | None, change: Callable[..., Lead]
) -> Response[Lead]:
    """Accept, reject or disqualify: crm.lifecycle changes the lead the caller may see, at the
    version they read (it stores the lead, its profile and the history entry together)."""
    principal = api.principal()
    before = lead_for_action(record_id, if_match, principal)
    after = change(record_id, by=principal, expected_version=before.version)
    return versioned_response(after, after.version)


def lead_for_action(record_id: str, if_match: str | None, principal: Principal) -> Lead:
    """The lead an action works on: 404 if the caller may not see it; 412 if If-Match is sent and stale."""
    lead: Lead = LEADS.get_for_action(record_id, principal, if_match)
    return lead

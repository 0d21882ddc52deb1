"""A sales lead: a person handed to sales (by scoring, at MQL) or entered by a sales rep.

Scoring creates leads; the CRM works them. Sales sees only leads in `SALES_VISIBLE` states: a lead that
sales rejected goes back to marketing's nurture and out of sales' views, as does a recycled one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, ConfigDict, Field

from leadstream.models import Model


class LeadStatus(StrEnum):
    NEW = "new"  # handed over or entered, not yet worked
    WORKING = "working"  # a rep is on it
    ACCEPTED = "accepted"  # sales accepted it: sales-qualified (SQL)
    CONVERTED = "converted"  # became contact + account + deal
    REJECTED = "rejected"  # sales sent it back to nurture (with a reason)
    DISQUALIFIED = "disqualified"  # not a buyer (with a reason)
    RECYCLED = "recycled"  # parked for marketing to re-nurture


SALES_VISIBLE = frozenset({LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.ACCEPTED, LeadStatus.CONVERTED})


class LeadOrigin(StrEnum):
    SCORING = "scoring"  # marketing-qualified by score and fit, or a hand-raiser form
    MANUAL = "manual"  # entered by a rep


class Lead(Model):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    lead_id: str = Field(alias="leadId")
    status: LeadStatus = LeadStatus.NEW
    origin: LeadOrigin
    profile_id: str | None = Field(default=None, alias="profileId")
    owner_id: str | None = Field(default=None, alias="ownerId")
    email: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    company: str | None = None
    title: str | None = None
    phone: str | None = None
    country: str | None = None
    # Why scoring handed this person over: "score", "hand-raiser" (and the form), with the scores then.
    qualification: dict[str, Any] = Field(default_factory=dict)
    status_reason: str | None = Field(default=None, alias="statusReason")
    # What the CRM converted the lead into (set once, when its status becomes converted).
    contact_id: str | None = Field(default=None, alias="contactId")
    account_id: str | None = Field(default=None, alias="accountId")
    deal_id: str | None = Field(default=None, alias="dealId")
    created_at: AwareDatetime = Field(alias="createdAt")
    updated_at: AwareDatetime = Field(alias="updatedAt")
    version: int = 1
    # When the person's data was erased (docs/customer-data.md, Erasure): the lead stays, anonymous.
    erased_at: AwareDatetime | None = Field(default=None, alias="erasedAt")

    @property
    def visible_to_sales(self) -> bool:
        return self.status in SALES_VISIBLE


def handoff_lead_id(profile_id: str, handoff_number: int) -> str:
    """The id of a profile's n-th handoff: a retried handoff finds the lead it already made."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadstream:lead:{profile_id}:{handoff_number}"))


def new_lead_id() -> str:
    return str(uuid.uuid4())


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""The handoff of a marketing-qualified person to sales: its record, the sales users it may go to, and
where its notifications go. Scoring makes handoffs (functions/scoring/handoff.py, which other domains
also ask for a person's handoffs and sales owner); the marketing API shows them. docs/scoring.md,
"Handoff, exactly once", explains the steps and their markers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from leadstream.models import Model
from leadstream.settings import load

LEAD_QUALIFIED = "lead.qualified"
EVENT_SOURCE = "leadstream.scoring"


class SendFailed(RuntimeError):
    """The service refused the call for sure (an error answer, or no connection): nothing was sent."""


class StepState(Model):
    """One side effect that must happen at most once (an email, a bus event).

    `claim` is written before the call and `resultId` after it. A claim without a result is a call whose
    outcome is unknown (the invocation died between the two): it is never repeated, and reported as
    uncertain. A call that failed for sure (the service said no) releases its claim, so a retry makes it.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    claim: str
    claimed_at: str = Field(alias="claimedAt")
    result_id: str | None = Field(default=None, alias="resultId")

    @property
    def status(self) -> Literal["done", "uncertain"]:
        return "done" if self.result_id else "uncertain"


class HandoffRecord(Model):
    """Item `PROFILE#<id>` / `HANDOFF#<n>`: created with the MQL decision, filled in step by step."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    profile_id: str = Field(alias="profileId")
    number: int
    lead_id: str = Field(alias="leadId")
    reason: str
    at: str
    form_id: str | None = Field(default=None, alias="formId")
    # Set once, with the round-robin step when that chose the owner ("rule:<id>", "round-robin", "nobody").
    assigned_by: str | None = Field(default=None, alias="assignedBy")
    owner_id: str | None = Field(default=None, alias="ownerId")
    owner_email: str | None = Field(default=None, alias="ownerEmail")
    email: StepState | None = None
    event: StepState | None = None
    completed_at: str | None = Field(default=None, alias="completedAt")


class SalesUser(Model):
    """An enabled member of the user pool's `sales` group: who leads can be assigned to."""

    model_config = ConfigDict(frozen=True)

    user_id: str  # the token `sub`, what leads and CRM records store as owner
    username: str
    email: str | None = None
    name: str | None = None


class HandoffSettings(Model, frozen=True):
    """Where a handoff's notifications go (template.yaml sets these on the scoring function)."""

    event_bus: str = Field(alias="LEAD_EVENT_BUS", min_length=1)
    sender: str = Field(alias="LEAD_NOTIFICATION_FROM", min_length=3)
    configuration_set: str | None = Field(default=None, alias="LEAD_NOTIFICATION_CONFIGURATION_SET")
    user_pool_id: str = Field(alias="USER_POOL_ID", min_length=1)
    sales_group: str = Field(default="sales", alias="SALES_GROUP")


def handoff_settings() -> HandoffSettings:
    return load(HandoffSettings)

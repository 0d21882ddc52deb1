"""Campaigns: one email (one template, or 2-5 A/B variants) to the members of a segment, now or at a set
time, optionally with an A/B test phase whose winner goes to the rest (docs/campaigns.md).

Statuses: draft → scheduled → sending | testing → sent, or cancelled. A campaign is edited only while
draft or scheduled. When it starts, the template versions are frozen (the latest version when none was
named), so editing a template later changes no email of this campaign.

Phases of the fan-out (who gets what is a pure function of the campaign and the person, campaigns.abtest):
- "all": no test phase; every member gets a variant by weight (one template: variant "A").
- "test": members whose bucket is under the test percentage, split among the variants by weight.
- "rest": the other members, after the decision, all with the chosen variant.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from campaigns import abtest
from leadstream.consents import TOPIC_ID_PATTERN
from leadstream.models import Model
from leadstream.numbers import StorableFloat, StorableInt, StorableIntOrNone
from leadstream.profiles import UtcTime
from mail.reports import EmailReport, Metric
from mail.sends import SendRequest, message_id_for

CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
VARIANT_IDS = string.ascii_uppercase[:5]
Phase = Literal["all", "test", "rest"]


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # a start timer is pending
    SENDING = "sending"  # the fan-out runs (the whole segment, or the rest after an A/B decision)
    TESTING = "testing"  # the test group was sent; the decision timer is pending
    SENT = "sent"
    CANCELLED = "cancelled"


EDITABLE = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
STARTED = frozenset({CampaignStatus.SENDING, CampaignStatus.TESTING})


class AbMetric(StrEnum):
    OPEN = "open"
    CLICK = "click"
    CONVERSION = "conversion"

    @property
    def counter(self) -> Metric:
        return {"open": Metric.OPENED, "click": Metric.CLICKED, "conversion": Metric.CONVERTED}[self.value]


class _Model(Model):
    # defer_build (on every model here): validators are built on first use, not at import; the
    # email API imports these models for its route declarations (docs/api.md, "Cold start").
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid")


class VariantInput(_Model):
    template_id: str = Field(alias="templateId", min_length=1, max_length=100)
    # None: the template's latest version when the campaign starts.
    template_version: StorableIntOrNone = Field(default=None, alias="templateVersion", ge=1)
    # Relative share of the (test) group: weights 1 and 1 split evenly, 70 and 30 split 70/30.
    weight: StorableInt = Field(default=1, ge=1, le=100)


class Variant(VariantInput):
    """A variant as stored: its id is its letter by position (A, B, ...)."""

    id: str = Field(pattern=r"^[A-E]$")


class AbTest(_Model):
    # The share of the segment that gets the test; the rest waits for the decision.
    test_percentage: StorableFloat = Field(alias="testPercentage", gt=0, lt=100)
    metric: AbMetric = AbMetric.OPEN
    decide_after_hours: StorableFloat = Field(alias="decideAfterHours", gt=0, le=30 * 24)
    confidence_level: StorableFloat = Field(default=0.95, alias="confidenceLevel", ge=0.5, lt=1)
    min_sample: StorableInt = Field(
        default=abtest.DEFAULT_MIN_SAMPLE, alias="minSamplePerVariant", ge=1, le=1_000_000
    )


class ConversionGoal(_Model):
    """A conversion: the person did `activityKey` (an event name, "Form Submitted:<formId>" ...) within
    `windowDays` after the email was sent."""

    activity_key: str = Field(alias="activityKey", min_length=1, max_length=200)
    window_days: StorableInt = Field(default=7, alias="windowDays", ge=1, le=90)


class CampaignContent(_Model):
    """What a marketer writes (the body of POST and PUT)."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    segment_id: str = Field(alias="segmentId", min_length=1, max_length=200)
    template_id: str | None = Field(default=None, alias="templateId", min_length=1, max_length=100)
    template_version: StorableIntOrNone = Field(default=None, alias="templateVersion", ge=1)
    variants: list[VariantInput] | None = Field(default=None, min_length=2, max_length=5)
    ab_test: AbTest | None = Field(default=None, alias="abTest")
    conversion: ConversionGoal | None = None
    topic_id: str | None = Field(
        default=None, alias="topicId", pattern=TOPIC_ID_PATTERN,
        description="the subscription topic it is about: people who opted out of it are skipped "
        "(none: only their consent to marketing email applies)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _one_kind_of_content(self) -> Self:
        if (self.template_id is None) == (self.variants is None):
            raise ValueError("give either `templateId` (one template) or `variants` (2 to 5 A/B variants)")
        if self.template_version is not None and self.template_id is None:
            raise ValueError("`templateVersion` goes with `templateId` (variants name their own versions)")
        if self.ab_test is not None and self.variants is None:
            raise ValueError("`abTest` needs `variants` to test")
        if (
            self.ab_test is not None
            and self.ab_test.metric is AbMetric.CONVERSION
            and self.conversion is None
        ):
            raise ValueError("an A/B test by conversion needs a `conversion` goal")
        return self


class ArmResult(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True)

    variant: str
    successes: int
    trials: int
    rate: float


class AbDecision(Model):
    """What the A/B test decided, and why (kept on the campaign, shown in its report)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True)

    metric: AbMetric
    winner: str | None = None
    # What the rest of the segment got: the winner, or the control (the first variant) without one.
    sent_to_rest: str = Field(alias="sentToRest")
    confidence: float | None = None
    p_value: float | None = Field(default=None, alias="pValue")
    z: float | None = None
    confidence_level: StorableFloat = Field(alias="confidenceLevel")
    reason: str
    decided_at: UtcTime = Field(alias="decidedAt")
    arms: list[ArmResult]


class Campaign(CampaignContent):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    campaign_id: str = Field(alias="campaignId", pattern=CAMPAIGN_ID_PATTERN)
    status: CampaignStatus = CampaignStatus.DRAFT
    version: int = Field(default=1, ge=1)  # every change; the ETag
    deleted: bool = False
    created_at: UtcTime = Field(alias="createdAt")
    updated_at: UtcTime = Field(alias="updatedAt")
    created_by: str | None = Field(default=None, alias="createdBy")
    updated_by: str | None = Field(default=None, alias="updatedBy")
    scheduled_at: UtcTime | None = Field(default=None, alias="scheduledAt")
    started_at: UtcTime | None = Field(default=None, alias="startedAt")
    finished_at: UtcTime | None = Field(default=None, alias="finishedAt")
    cancelled_at: UtcTime | None = Field(default=None, alias="cancelledAt")
    # The variants with the template versions frozen at the start.
    sent_variants: list[Variant] | None = Field(default=None, alias="sentVariants")
    decision: AbDecision | None = None
    error: str | None = None  # why a scheduled start could not send (e.g. the template was archived)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"deleted"})

    def arms(self) -> list[Variant]:
        """The variants in order (one template: the single variant "A")."""
        if self.sent_variants is not None:
            return self.sent_variants
        if self.variants is not None:
            return [Variant(id=VARIANT_IDS[index], **v.model_dump()) for index, v in enumerate(self.variants)]
        assert self.template_id is not None
        return [Variant(id="A", template_id=self.template_id, template_version=self.template_version)]

    @property
    def first_phase(self) -> Phase:
        return "test" if self.ab_test is not None else "all"

    def decision_at(self) -> datetime | None:
        if self.ab_test is None or self.started_at is None:
            return None
        return self.started_at + timedelta(hours=self.ab_test.decide_after_hours)

    def variant_for(self, profile_id: str, phase: Phase) -> Variant | None:
        """The variant this member gets in `phase`; None: not in this phase."""
        arms = self.arms()
        if phase == "rest":
            if self.ab_test is None or self.decision is None:
                return None
            in_test = abtest.bucket(self.campaign_id, profile_id) < self.ab_test.test_percentage
            return None if in_test else next(a for a in arms if a.id == self.decision.sent_to_rest)
        percentage = self.ab_test.test_percentage if phase == "test" and self.ab_test else None
        index = abtest.test_variant(self.campaign_id, profile_id, [a.weight for a in arms], percentage)
        return None if index is None else arms[index]

    def send_request(self, profile_id: str, variant: Variant) -> SendRequest:
        """The email of this campaign for one member. The message id names the campaign and the person,
        not the variant: one person never gets two variants, and any repeat is the same message."""
        assert variant.template_version is not None, "variants are frozen when the campaign starts"
        return SendRequest(
            message_id=message_id_for("campaign", self.campaign_id, profile_id),
            template_id=variant.template_id,
            template_version=variant.template_version,
            profile_id=profile_id,
            campaign_id=self.campaign_id,
            variant=variant.id,
            topic_id=self.topic_id,
        )


class CampaignDocument(Campaign):
    """A campaign as the API shows it."""

    model_config = ConfigDict(defer_build=True, serialize_by_alias=True)

    deleted: SkipJsonSchema[bool] = Field(default=False, exclude=True)  # a deleted campaign is a 404

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignDocument:
        return cls.model_validate(campaign.to_json())


class CampaignSummary(Model):
    """A campaign in the list."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    campaign_id: str = Field(alias="campaignId")
    name: str
    status: CampaignStatus
    segment_id: str = Field(alias="segmentId")
    version: int
    updated_at: UtcTime = Field(alias="updatedAt")
    scheduled_at: UtcTime | None = Field(default=None, alias="scheduledAt")
    started_at: UtcTime | None = Field(default=None, alias="startedAt")

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignSummary:
        return cls.model_validate(campaign.model_dump(include=set(cls.model_fields)))


class SendBody(Model):
    """The body of POST /marketing/campaigns/{id}/send: none or `{}` sends now, `{"at": "..."}` schedules
    (a time less than a minute ahead sends now)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    at: AwareDatetime | None = None


class VariantReport(EmailReport):
    variant: str
    template_id: str = Field(alias="templateId")
    template_version: int | None = Field(
        alias="templateVersion", description="null until the campaign starts"
    )


class AbTestDecided(AbDecision):
    model_config = ConfigDict(defer_build=True, serialize_by_alias=True)

    status: Literal["decided"] = "decided"


class AbTestPending(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    status: Literal["pending"] = "pending"
    metric: AbMetric
    decide_at: UtcTime | None = Field(alias="decideAt", description="null until the campaign starts")


class CampaignReport(Model):
    """A campaign's emails counted per variant and in total, and how its A/B test stands."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    campaign_id: str = Field(alias="campaignId")
    status: CampaignStatus
    variants: list[VariantReport]
    total: EmailReport
    ab_test: Annotated[AbTestDecided | AbTestPending, Field(discriminator="status")] | None = Field(
        default=None, alias="abTest"
    )


class FanoutPage(Model):
    """The FanoutQueue message: one page of one phase of a campaign's members."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid")

    campaign_id: str = Field(alias="campaignId", min_length=1, max_length=200)
    phase: Phase
    page: int = Field(ge=0)
    cursor: str | None = None  # the segment store's cursor where this page starts (None: the first page)

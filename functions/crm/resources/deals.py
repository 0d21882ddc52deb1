"""Deals (opportunities): an amount in a currency, expected to close on a date, moving through the stages of
a pipeline. Each stage move is kept in the deal's stage history; the stage sets the default probability
and forecast category, a rep may override both until the next move. Won and lost stages close the deal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from crm.api.framework import Resource, referenced, register_resource
from crm.api.models import CrmInput, CustomFields, CustomFieldsPatch, LongText, Name, RecordId, Slug, UserId
from crm.commerce.money import MINOR_UNITS, Amount, Currency
from crm.records import CrmRecord, RecordType
from crm.resources.accounts import ACCOUNT
from crm.resources.contacts import CONTACT
from crm.resources.pipelines import (
    STANDARD_PIPELINE,
    ForecastCategory,
    PipelineStage,
    StageOutcome,
    get_pipeline,
)
from leadstream import clock
from leadstream.api import Api, ListParams
from leadstream.auth import CRM_DEALS, CRM_WRITE, Principal
from leadstream.errors import InvalidInput
from leadstream.models import Model
from leadstream.numbers import StorableIntOrNone
from leadstream.profiles import UtcTime

DEFAULT_DAYS_TO_CLOSE = 30


class StageEntry(Model):
    """A deal entered a stage."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    stage_id: str = Field(alias="stageId")
    entered_at: UtcTime = Field(alias="enteredAt")
    by: str = Field(description="user id of who moved the deal")


def _exact_for_currency(amount: Decimal | None, currency: str | None) -> None:
    if amount is None:
        return
    if currency is None:
        raise ValueError("an amount needs its currency")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MINOR_UNITS[currency]:
        raise ValueError(f"{currency} amounts have at most {MINOR_UNITS[currency]} decimal places")


class DealFields(CrmInput):
    name: Name
    account_id: RecordId | None = Field(default=None, alias="accountId")
    contact_id: RecordId | None = Field(default=None, alias="contactId", description="the main contact")
    pipeline_id: Slug = Field(default=STANDARD_PIPELINE, alias="pipelineId")
    stage_id: Slug | None = Field(default=None, alias="stageId", description="default: the first open stage")
    currency: Currency | None = None
    amount: Amount | None = Field(default=None, description='exact decimal string, e.g. "12500.00"')
    close_date: date | None = Field(
        default=None,
        alias="closeDate",
        description=f"expected close; default: in {DEFAULT_DAYS_TO_CLOSE} days",
    )
    probability: StorableIntOrNone = Field(
        default=None, ge=0, le=100, description="percent; default: the stage's"
    )
    forecast_category: ForecastCategory | None = Field(
        default=None, alias="forecastCategory", description="default: the stage's"
    )
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="default: the creator")
    description: LongText | None = None
    custom_fields: CustomFields = Field(default_factory=dict, alias="customFields")

    @field_validator("amount")
    @classmethod
    def _amount_in_currency(cls, amount: Decimal | None, info: ValidationInfo) -> Decimal | None:
        _exact_for_currency(amount, info.data.get("currency"))
        return amount


class Deal(DealFields, CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    deal_id: RecordId = Field(alias="dealId")
    outcome: StageOutcome = StageOutcome.OPEN
    closed_at: UtcTime | None = Field(default=None, alias="closedAt")
    lead_id: str | None = Field(default=None, alias="leadId", description="the lead it was converted from")
    stage_history: list[StageEntry] = Field(default_factory=list, alias="stageHistory")


class DealChanges(CrmInput):
    name: Name | None = None
    account_id: RecordId | None = Field(default=None, alias="accountId")
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    pipeline_id: Slug | None = Field(default=None, alias="pipelineId")
    stage_id: Slug | None = Field(default=None, alias="stageId")
    amount: Amount | None = None
    currency: Currency | None = None
    close_date: date | None = Field(default=None, alias="closeDate")
    probability: StorableIntOrNone = Field(default=None, ge=0, le=100)
    forecast_category: ForecastCategory | None = Field(default=None, alias="forecastCategory")
    owner_id: UserId | None = Field(default=None, alias="ownerId")
    description: LongText | None = None
    custom_fields: CustomFieldsPatch | None = Field(default=None, alias="customFields")


class DealQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's deals; `me`")
    account_id: RecordId | None = Field(default=None, alias="accountId", description="an account's deals")
    pipeline_id: Slug | None = Field(default=None, alias="pipelineId")
    stage_id: Slug | None = Field(default=None, alias="stageId")
    outcome: StageOutcome | None = None
    forecast_category: ForecastCategory | None = Field(default=None, alias="forecastCategory")
    close_from: date | None = Field(default=None, alias="closeFrom", description="close date on or after")
    close_to: date | None = Field(default=None, alias="closeTo", description="close date on or before")


DEAL = RecordType(
    kind="deal",
    plural="deals",
    model=Deal,
    id_field="deal_id",
    title_field="name",
    sort_field="close_date",
    timeline_fields=("stage_id", "amount", "close_date", "outcome"),
)


def prepare(deal: Deal, before: Deal | None, principal: Principal) -> Deal:
    """Check references; on a stage move, record it and take the stage's defaults; closed stages close."""
    references: dict[str, tuple[RecordType[Any], str]] = {}
    if deal.account_id and (before is None or before.account_id != deal.account_id):
        references["accountId"] = (ACCOUNT, deal.account_id)
    if deal.contact_id and (before is None or before.contact_id != deal.contact_id):
        references["contactId"] = (CONTACT, deal.contact_id)
    referenced(references)
    _exact_for_currency(deal.amount, deal.currency)  # a patch may change one without the other
    if deal.close_date is None:
        deal = deal.model_copy(update={"close_date": clock.today() + timedelta(days=DEFAULT_DAYS_TO_CLOSE)})
    moved = before is None or (deal.stage_id, deal.pipeline_id) != (before.stage_id, before.pipeline_id)
    if moved:
        deal = _enter_stage(deal, before, _stage_of(deal), principal)
    return _closed_is_certain(deal)


def _stage_of(deal: Deal) -> PipelineStage:
    pipeline = get_pipeline(deal.pipeline_id)
    if deal.stage_id is None:
        return pipeline.first_open_stage
    stage = pipeline.stage(deal.stage_id)
    if stage is None:
        known = ", ".join(stage.stage_id for stage in pipeline.stages)
        raise InvalidInput(
            f"Pipeline {pipeline.pipeline_id} has no stage {deal.stage_id}; its stages are {known}.",
            errors=[{"field": "stageId", "message": f"not a stage of pipeline {pipeline.pipeline_id}"}],
        )
    return stage


def _enter_stage(deal: Deal, before: Deal | None, stage: PipelineStage, principal: Principal) -> Deal:
    """The deal in `stage`: probability and category follow the stage unless set (see `stage_move`)."""
    moment = clock.now()
    update: dict[str, object] = {
        "stage_id": stage.stage_id,
        "outcome": stage.outcome,
        "stage_history": [
            *deal.stage_history,
            StageEntry(stage_id=stage.stage_id, entered_at=moment, by=principal.user_id),
        ],
    }
    if deal.probability is None:
        update["probability"] = stage.probability
    if deal.forecast_category is None:
        update["forecast_category"] = stage.forecast_category
    closing = stage.outcome is not StageOutcome.OPEN
    update["closed_at"] = (before.closed_at if before and before.closed_at else moment) if closing else None
    return deal.model_copy(update=update)


def _closed_is_certain(deal: Deal) -> Deal:
    if deal.outcome is StageOutcome.WON:
        return deal.model_copy(update={"probability": 100, "forecast_category": ForecastCategory.CLOSED})
    if deal.outcome is StageOutcome.LOST:
        return deal.model_copy(update={"probability": 0, "forecast_category": ForecastCategory.OMITTED})
    return deal


def stage_move(before: Deal, changes: dict[str, Any]) -> dict[str, Any]:
    """A patch that moves the deal to another stage resets probability and category to the new stage's,
    unless it sets them itself: a rep's override lasts until the next move."""
    moves = any(name in changes and changes[name] != getattr(before, field) for name, field in _STAGE_FIELDS)
    if moves:
        changes.setdefault("probability", None)
        changes.setdefault("forecastCategory", None)
    return changes


_STAGE_FIELDS = (("stageId", "stage_id"), ("pipelineId", "pipeline_id"))


DEALS = Resource(
    record=DEAL,
    create_model=DealFields,
    patch_model=DealChanges,
    query_model=DealQuery,
    read=CRM_DEALS,
    write=CRM_WRITE,
    tag="deals",
    prepare=prepare,
    rewrite_patch=stage_move,
)


def register(api: Api) -> None:
    register_resource(api, DEALS)

"""Pipelines: the ordered stages a deal moves through, each with a default probability and forecast
category. Admins define them; a `standard` pipeline exists from the first time anyone needs it."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from crm.api.framework import Resource, register_resource
from crm.api.models import CrmInput, LongText, Name, Slug
from crm.records import SYSTEM, CrmRecord, RecordType
from crm.store import records as store
from leadstream import clock
from leadstream.api import Api, ListParams
from leadstream.auth import ADMIN_ONLY, CRM_DEALS
from leadstream.caches import container_cache
from leadstream.errors import Conflict, InvalidInput
from leadstream.models import Model
from leadstream.numbers import StorableInt
from leadstream.settings import get_settings

STANDARD_PIPELINE = "standard"
MAX_STAGES = 30


class ForecastCategory(StrEnum):
    """How sure a deal is, as forecasts group it."""

    PIPELINE = "pipeline"
    BEST_CASE = "best_case"
    COMMIT = "commit"
    CLOSED = "closed"  # won
    OMITTED = "omitted"  # lost, or left out of the forecast


class StageOutcome(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class PipelineStage(Model):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    stage_id: Slug = Field(alias="stageId")
    name: Name
    probability: StorableInt = Field(ge=0, le=100, description="default win probability in percent")
    outcome: StageOutcome = StageOutcome.OPEN
    forecast_category: ForecastCategory = Field(
        default=ForecastCategory.PIPELINE,
        alias="forecastCategory",
        description="default category of a deal in this stage (won stages are closed, lost ones omitted)",
    )

    @model_validator(mode="after")
    def _closed_stages_are_certain(self) -> PipelineStage:
        if self.outcome is StageOutcome.WON:
            self.probability, self.forecast_category = 100, ForecastCategory.CLOSED
        elif self.outcome is StageOutcome.LOST:
            self.probability, self.forecast_category = 0, ForecastCategory.OMITTED
        return self


class PipelineFields(CrmInput):
    name: Name
    description: LongText | None = None
    stages: list[PipelineStage] = Field(min_length=2, max_length=MAX_STAGES, description="in order")

    @model_validator(mode="after")
    def _usable(self) -> PipelineFields:
        ids = [stage.stage_id for stage in self.stages]
        if len(set(ids)) != len(ids):
            raise ValueError("stage ids must be unique within a pipeline")
        outcomes = {stage.outcome for stage in self.stages}
        if StageOutcome.OPEN not in outcomes or StageOutcome.WON not in outcomes:
            raise ValueError("a pipeline needs at least one open stage and one won stage")
        return self


class PipelineInput(PipelineFields):
    pipeline_id: Slug | None = Field(
        default=None,
        alias="pipelineId",
        description="a readable id such as `enterprise` (default: generated)",
    )


class Pipeline(PipelineFields, CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    pipeline_id: Slug = Field(alias="pipelineId")

    def stage(self, stage_id: str) -> PipelineStage | None:
        return next((stage for stage in self.stages if stage.stage_id == stage_id), None)

    @property
    def first_open_stage(self) -> PipelineStage:
        return next(stage for stage in self.stages if stage.outcome is StageOutcome.OPEN)


class PipelineChanges(CrmInput):
    name: Name | None = None
    description: LongText | None = None
    stages: list[PipelineStage] | None = Field(default=None, min_length=2, max_length=MAX_STAGES)


class PipelineQuery(ListParams):
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


PIPELINE = RecordType(
    kind="pipeline",
    plural="pipelines",
    model=Pipeline,
    id_field="pipeline_id",
    title_field="name",
    owner_field=None,
    account_field=None,
)


def _stage(stage_id: str, name: str, probability: int, category: ForecastCategory) -> PipelineStage:
    return PipelineStage(stage_id=stage_id, name=name, probability=probability, forecast_category=category)


def standard_pipeline() -> Pipeline:
    """The pipeline every deployment starts with: the early cycle (qualify, demo), then proposal to close."""
    moment = clock.now()
    return Pipeline(
        pipeline_id=STANDARD_PIPELINE,
        name="Standard",
        stages=[
            _stage("qualification", "Qualification", 10, ForecastCategory.PIPELINE),
            _stage("discovery", "Discovery call", 20, ForecastCategory.PIPELINE),
            _stage("demo", "Demo", 40, ForecastCategory.PIPELINE),
            _stage("proposal", "Proposal", 60, ForecastCategory.BEST_CASE),
            _stage("negotiation", "Negotiation", 80, ForecastCategory.COMMIT),
            PipelineStage(stage_id="won", name="Closed won", probability=100, outcome=StageOutcome.WON),
            PipelineStage(stage_id="lost", name="Closed lost", probability=0, outcome=StageOutcome.LOST),
        ],
        created_at=moment,
        updated_at=moment,
        created_by=SYSTEM.user_id,
        updated_by=SYSTEM.user_id,
    )


def get_pipeline(pipeline_id: str) -> Pipeline:
    """A pipeline for a deal: 422 if there is none; the standard one is stored the first time it is used."""
    found = store.get_record(PIPELINE, pipeline_id)
    if found is not None:
        return found
    if pipeline_id != STANDARD_PIPELINE:
        raise InvalidInput(
            f"No pipeline {pipeline_id}.", errors=[{"field": "pipelineId", "message": "no such pipeline"}]
        )
    standard = standard_pipeline()
    try:
        store.create_record(PIPELINE, standard, SYSTEM)
    except Conflict:  # someone stored it a moment ago (or deleted it: then use it as built in)
        return store.get_record(PIPELINE, pipeline_id) or standard
    return standard


def ensure_standard_pipeline() -> None:
    """Store the standard pipeline if it is not yet: once per container and table (one GetItem), then
    never again."""
    _standard_pipeline_stored(get_settings().main_table)


@container_cache
def _standard_pipeline_stored(table: str) -> bool:
    """Store it in the configured main table; `table`, that table's name, only keys the cache."""
    get_pipeline(STANDARD_PIPELINE)
    return True


PIPELINES = Resource(
    record=PIPELINE,
    create_model=PipelineInput,
    patch_model=PipelineChanges,
    query_model=PipelineQuery,
    read=CRM_DEALS,
    write=ADMIN_ONLY,
    tag="pipelines",
    client_id_field="pipeline_id",
    ensure=ensure_standard_pipeline,
)


def register(api: Api) -> None:
    register_resource(api, PIPELINES)

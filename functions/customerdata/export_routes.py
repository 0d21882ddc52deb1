"""The export routes: a segment (`/marketing/exports`, marketing roles) or a CRM list with its filters
(`/crm/exports`, sales roles) to CSV, as a job. Thin: parse, check, create the job, queue it, shape the
answer. docs/customer-data.md, Exports.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field, JsonValue

from audience.definitions import get as get_segment
from crm import listing
from customerdata import exporter
from customerdata.exports import (
    DEFAULT_SEGMENT_COLUMNS,
    CrmExportRequest,
    ExportJob,
    SegmentExportRequest,
    repeated,
    unknown_profile_columns,
)
from customerdata.store import exportjobs, multipart
from leadstream import clock, idempotency
from leadstream.api import Api, IdempotencyKey
from leadstream.auth import CRM_WRITE, MARKETING, Principal, Role
from leadstream.errors import InvalidInput, NotFound
from leadstream.models import Model
from leadstream.profiles import iso_utc

TAG = "exports"
ExportIdPath = Annotated[str, Path(pattern=r"^exp_[0-9a-f]{32}$", description="the export's id")]
LOCATION = {"Location": {"description": "the export's URL"}}
DOWNLOAD_URL_SECONDS = 3600


class ExportCounts(Model):
    rows: int = Field(description="rows written so far (the header aside)")
    bytes: int = Field(description="bytes written so far")
    parts: int = Field(description="parts of the file uploaded so far")


class ExportView(Model):
    export_id: str = Field(alias="exportId")
    source: str = Field(description="segment or crm")
    segment_id: str | None = Field(default=None, alias="segmentId")
    resource: str | None = Field(default=None, description="the CRM list (crm exports)")
    filters: dict[str, JsonValue] = Field(default_factory=dict)
    columns: list[str]
    status: str = Field(description="queued, running, done or failed")
    created_at: str = Field(alias="createdAt")
    started_at: str | None = Field(default=None, alias="startedAt")
    finished_at: str | None = Field(default=None, alias="finishedAt")
    counts: ExportCounts
    error: str | None = Field(default=None, description="why the export failed (status failed)")
    file_name: str = Field(alias="fileName")
    download_url: str | None = Field(
        default=None,
        alias="downloadUrl",
        description=f"a presigned GET of the CSV, valid {DOWNLOAD_URL_SECONDS // 60} minutes, once done",
    )

    @classmethod
    def of(cls, job: ExportJob) -> ExportView:
        url = None
        if job.status == "done":
            url = multipart.download_url(job.file_key, job.file_name, DOWNLOAD_URL_SECONDS)
        return cls.model_validate(
            {
                **job.model_dump(by_alias=True, exclude={"upload_id", "cursor", "roles"}),
                "counts": {"rows": job.rows, "bytes": job.bytes_written, "parts": job.parts},
                "fileName": job.file_name,
                "downloadUrl": url,
            }
        )


class ExportList(Model):
    items: list[ExportView]


def register(api: Api) -> None:
    _register_source(api, "/marketing/exports", MARKETING, "segment")
    _register_source(api, "/crm/exports", CRM_WRITE, "crm")

    @api.route(
        "POST", "/marketing/exports", policy=MARKETING, tag=TAG, status_code=202, problems=[404],
        headers=LOCATION,
        summary="Export a segment's members to CSV (a job; GET it for the download URL)",
    )  # fmt: skip
    def export_segment(
        body: SegmentExportRequest, idempotency_key: IdempotencyKey = None
    ) -> Response[ExportView]:
        columns = list(body.columns or DEFAULT_SEGMENT_COLUMNS)
        _check_columns(columns, unknown_profile_columns(columns), "a profile column")
        get_segment(body.segment_id)  # 404 for a segment that does not exist
        return _create(
            api, {"source": "segment", "segmentId": body.segment_id, "columns": columns}, idempotency_key
        )

    @api.route(
        "POST", "/crm/exports", policy=CRM_WRITE, tag=TAG, status_code=202, headers=LOCATION,
        summary="Export a CRM list, with its filters, to CSV (a job; GET it for the download URL)",
    )  # fmt: skip
    def export_crm_list(
        body: CrmExportRequest, idempotency_key: IdempotencyKey = None
    ) -> Response[ExportView]:
        filters = listing.check_filters(body.resource, body.filters)
        _check_columns(body.columns, listing.unknown_columns(body.resource, body.columns), "a field")
        return _create(
            api,
            {"source": "crm", "resource": body.resource, "filters": filters, "columns": body.columns},
            idempotency_key,
        )


def _register_source(api: Api, base: str, policy: frozenset[Role], source: str) -> None:
    name = source.replace("crm", "crm_list")

    def get_export(export_id: ExportIdPath) -> ExportView:
        return ExportView.of(_job(export_id, source, api.principal()))

    def list_exports() -> ExportList:
        principal = api.principal()
        jobs = [job for job in exportjobs.list_jobs(source, 50) if _may_read(job, principal)]
        return ExportList(items=[ExportView.of(job) for job in jobs])

    get_export.__name__, list_exports.__name__ = f"get_{name}_export", f"list_{name}_exports"
    api.route(
        "GET", f"{base}/<export_id>", policy=policy, tag=TAG, problems=[404],
        summary="An export's status and counts, and the CSV's download URL once done",
    )(get_export)  # fmt: skip
    api.route("GET", base, policy=policy, tag=TAG, summary="The latest exports, newest first")(list_exports)


def _check_columns(columns: list[str], unknown: list[str], what: str) -> None:
    twice = repeated(columns)
    if unknown or twice:
        errors = [{"field": "columns", "message": f"{column!r} is not {what}"} for column in unknown]
        errors += [{"field": "columns", "message": f"{column!r} is named twice"} for column in twice]
        problems = []
        if unknown:
            problems.append(f"No such column: {', '.join(unknown)}.")
        if twice:
            problems.append(f"Named twice: {', '.join(twice)}.")
        raise InvalidInput(" ".join(problems), errors=errors)


def _create(api: Api, request: dict[str, Any], idempotency_key: str | None) -> Response[ExportView]:
    principal = api.principal()
    if idempotency_key is None:
        export_id = f"exp_{uuid.uuid4().hex}"
    else:
        # The same key makes the same export id, so a retried POST finds the export it created.
        record_id = idempotency.record_id_for(f"{principal.user_id}:export", idempotency_key)
        export_id = "exp_" + uuid.UUID(record_id).hex
        earlier = exportjobs.get_job(export_id)
        if earlier is not None:
            return _accepted(_same_request(earlier, request))
    job = ExportJob.model_validate(
        {
            **request,
            "exportId": export_id,
            "status": "queued",
            "createdAt": iso_utc(clock.now()),
            "createdBy": principal.user_id,
            "createdByName": principal.username,
            "roles": sorted(role.value for role in principal.roles),
        }
    )
    if not exportjobs.create_job(job):  # a concurrent retry with the same key created it
        earlier = exportjobs.get_job(export_id)
        assert earlier is not None
        return _accepted(_same_request(earlier, request))
    exporter.start(job)
    return _accepted(job)


def _same_request(earlier: ExportJob, request: dict[str, Any]) -> ExportJob:
    """The export an earlier try with this Idempotency-Key made; 422 when that key asked for another."""
    asked = (request["source"], request.get("segmentId"), request.get("resource"), request.get("filters", {}))
    if (earlier.source, earlier.segment_id, earlier.resource, earlier.filters) != asked or (
        earlier.columns != request["columns"]
    ):
        raise InvalidInput(
            "This Idempotency-Key was used for another export: send a new key for a new export.",
            errors=[{"field": "Idempotency-Key", "message": "used for another export"}],
        )
    return earlier


def _accepted(job: ExportJob) -> Response[ExportView]:
    base = "/marketing/exports" if job.source == "segment" else "/crm/exports"
    return Response(
        status_code=202,
        content_type="application/json",
        body=ExportView.of(job),
        headers={"Location": f"{base}/{job.export_id}"},
    )


def _may_read(job: ExportJob, principal: Principal) -> bool:
    """A segment's export is the marketing team's; a CRM list's is read by who made it (it holds what
    their role and ownership let them see) or an admin."""
    return job.source == "segment" or job.created_by == principal.user_id or principal.has(Role.ADMIN)


def _job(export_id: str, source: str, principal: Principal) -> ExportJob:
    job = exportjobs.get_job(export_id)
    if job is None or job.source != source or not _may_read(job, principal):
        raise NotFound(f"There is no export {export_id}.")
    return job

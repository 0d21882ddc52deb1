"""The customer data routes under /marketing: imports. Thin: parse, call one function, shape the answer.

Every route needs the marketing or admin role.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import ConfigDict, Field, StringConstraints, model_validator

from customerdata import access, importer
from customerdata.config import customerdata_settings
from customerdata.imports import ImportCounts, ImportJob, ImportRequest
from customerdata.store import files, jobs
from leadstream import clock
from leadstream.api import Api
from leadstream.auth import MARKETING, Role
from leadstream.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from leadstream.models import Model
from leadstream.profiles import iso_utc

TAG = "imports"
ImportIdPath = Annotated[str, Path(pattern=r"^imp_[0-9a-f]{32}$", description="the import's id")]
LOCATION = {"Location": {"description": "the new import's URL"}}
CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


class ImportUpload(Model):
    method: str = "PUT"
    url: str
    headers: dict[str, str]


class ImportView(Model):
    import_id: str = Field(alias="importId")
    kind: str
    status: str
    file_name: str = Field(alias="fileName")
    format: str
    dry_run: bool = Field(alias="dryRun")
    created_at: str = Field(alias="createdAt")
    started_at: str | None = Field(default=None, alias="startedAt")
    finished_at: str | None = Field(default=None, alias="finishedAt")
    total_rows: int | None = Field(
        default=None, alias="totalRows", description="known once the file is split"
    )
    counts: ImportCounts
    progress: float = Field(description="share of the rows done, 0 to 1")
    columns: dict[str, str | None] | None = Field(default=None, description="header to field (null: ignored)")
    error: str | None = Field(default=None, description="why the file could not be imported (status failed)")
    error_file_url: str | None = Field(
        default=None,
        alias="errorFileUrl",
        description="CSV of rejected rows (row, column, reason), once done",
    )

    @classmethod
    def of(cls, job: ImportJob) -> ImportView:
        total = job.total_rows
        progress = 1.0 if job.status == "done" else (job.counts.rows / total if total else 0.0)
        error_file = None
        if job.status == "done" and job.counts.rejected:
            error_file = files.download_url(job.error_file_key, f"{job.import_id}-errors.csv")
        return cls.model_validate(
            {
                **job.model_dump(by_alias=True),
                "progress": round(min(progress, 1.0), 4),
                "errorFileUrl": error_file,
            }
        )


class CreatedImport(Model):
    import_: ImportView = Field(alias="import")
    upload: ImportUpload


class ImportList(Model):
    items: list[ImportView]


class PersonRequest(Model):
    """One person, by email address or by profile id (exactly one of them)."""

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)] | None = (
        None
    )
    profile_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@-]{1,200}$")] | None = Field(
        default=None, alias="profileId"
    )

    @model_validator(mode="after")
    def _one(self) -> PersonRequest:
        if (self.email is None) == (self.profile_id is None):
            raise ValueError("give either email or profileId")
        return self


class AccessDocument(Model):
    """Everything held about one person (docs/customer-data.md, Access)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    generated_at: str = Field(alias="generatedAt")
    profile: dict[str, Any]
    identities: list[dict[str, Any]]
    events: list[dict[str, Any]]
    events_truncated: bool = Field(alias="eventsTruncated")
    emails: list[dict[str, Any]]


def register(api: Api) -> None:
    base = "/marketing/imports"

    @api.route(
        "POST", base, policy=MARKETING, tag=TAG, status_code=201, problems=[413], headers=LOCATION,
        summary="Start an import: the job, and a presigned URL to PUT the file to",
    )  # fmt: skip
    def create_import(body: ImportRequest) -> Response[CreatedImport]:
        settings = customerdata_settings()
        principal = api.principal()
        if body.kind == "accounts" and not principal.has(Role.ADMIN):
            # Accounts are CRM records, which marketing reads but does not write.
            raise Forbidden("Importing accounts writes CRM records: it needs the admin role.")
        if body.size > settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"The file is {body.size} bytes; an import takes at most {settings.max_upload_bytes} bytes: "
                "split it into smaller files."
            )
        file_format = body.file_format()
        job = ImportJob.model_validate(
            {
                "importId": f"imp_{uuid.uuid4().hex}",
                "kind": body.kind,
                "status": "awaiting-upload",
                "fileName": body.file_name,
                "format": file_format,
                "encoding": body.encoding,
                "size": body.size,
                "mapping": body.mapping,
                "dryRun": body.dry_run,
                "createdAt": iso_utc(clock.now()),
                "createdBy": principal.user_id,
            }
        )
        jobs.create_job(job)
        content_type = CONTENT_TYPES[file_format]
        created = CreatedImport.model_validate(
            {
                "import": ImportView.of(job),
                "upload": ImportUpload(
                    url=files.upload_url(job.upload_key, content_type), headers={"Content-Type": content_type}
                ),
            }
        )
        return Response(
            status_code=201,
            content_type="application/json",
            body=created,
            headers={"Location": f"{base}/{job.import_id}"},
        )

    @api.route(
        "POST", f"{base}/<import_id>/start", policy=MARKETING, tag=TAG, status_code=202,
        problems=[404, 409, 413],
        summary="Check the uploaded file (size, encoding, columns) and queue it; a repeat changes nothing",
    )  # fmt: skip
    def start_import(import_id: ImportIdPath) -> Response[ImportView]:
        job = _job(import_id)
        if job.status != "awaiting-upload":
            return Response(status_code=202, content_type="application/json", body=ImportView.of(job))
        try:
            encoding, columns = importer.check_upload(job, customerdata_settings().max_upload_bytes)
        except importer.NotUploaded as exc:
            raise Conflict(str(exc)) from None
        except importer.TooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        except importer.ImportRefused as exc:
            raise InvalidInput(str(exc)) from None
        if jobs.mark_queued(import_id, encoding=encoding, columns=columns, at=iso_utc(clock.now())):
            importer.start_split(job)
        return Response(status_code=202, content_type="application/json", body=ImportView.of(_job(import_id)))

    @api.route(
        "GET", f"{base}/<import_id>", policy=MARKETING, tag=TAG, problems=[404],
        summary="An import's progress and counts, and its error file once done",
    )  # fmt: skip
    def get_import(import_id: ImportIdPath) -> ImportView:
        return ImportView.of(_job(import_id))

    @api.route("GET", base, policy=MARKETING, tag=TAG, summary="The latest imports, newest first")
    def list_imports() -> ImportList:
        return ImportList(items=[ImportView.of(job) for job in jobs.list_jobs(50)])

    @api.route(
        "POST", "/marketing/privacy/exports", policy=MARKETING, tag="privacy", problems=[404],
        summary="Everything held about one person (access and portability), as one JSON document",
    )  # fmt: skip
    def privacy_export(body: PersonRequest) -> AccessDocument:
        profile = access.find_person(body.email, body.profile_id)
        return AccessDocument.model_validate(access.access_document(profile))


def _job(import_id: str) -> ImportJob:
    job = jobs.get_job(import_id)
    if job is None:
        raise NotFound(f"There is no import {import_id}.")
    return job

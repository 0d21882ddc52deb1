"""Running an export: page by page into a multipart upload, checkpointed with each part. The worker's step.

```
POST /marketing/exports | /crm/exports   the job (queued); an "export" message on the ImportQueue
export (ImportQueue message)             the multipart upload is started (once); then, page after page:
                                         members (or records) → CSV rows appended to the part being built;
                                         at a page's end, once the part holds EXPORT_PART_BYTES (or after
                                         the last page), it is uploaded and the job checkpointed (parts,
                                         rows, bytes, the next page's cursor); past the step's time budget
                                         another "export" message carries on from the checkpoint
after the last page                      the upload completed from parts 1..n; the job → done
```

Memory is one page and one part, whatever the size of the list. A step that dies loses only the rows
after its last checkpoint: the next delivery starts from the checkpoint's cursor, writes its part under
the same number (replacing any half-done one) and so never writes a row twice. Two runs of one step at
once cannot both checkpoint a part (the checkpoint is conditioned on the part count it read).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audience.definitions import member_ids_page
from crm.listing import records_page
from customerdata.config import CustomerDataSettings, customerdata_settings
from customerdata.exports import ExportJob, csv_rows, header_row, profile_cells, record_cells
from customerdata.store import exportjobs, multipart, queue
from leadstream import clock
from leadstream.auth import Principal, Role
from leadstream.errors import BadRequest, InvalidInput, NotFound
from leadstream.profiles import iso_utc
from leadstream.store.profiles import load_profiles

# One page: (the cursor of the page to read, None for the first; how many) → (rows, the next cursor).
PageReader = Callable[[str | None, int], tuple[list[list[Any]], str | None]]


@dataclass
class StepReport:
    """What one run of the step did, and the most it held at once (the streaming tests read these)."""

    outcome: str = ""
    pages: int = 0
    parts: int = 0
    peak_rows_held: int = 0
    peak_part_bytes: int = 0


def reader_for(job: ExportJob) -> PageReader:
    if job.source == "segment":
        segment_id = str(job.segment_id)

        def segment_page(cursor: str | None, limit: int) -> tuple[list[list[Any]], str | None]:
            ids, next_cursor = member_ids_page(segment_id, limit=limit, start=cursor)
            profiles = load_profiles(ids)
            now = clock.now()
            return [
                profile_cells(profiles[pid], job.columns, now) for pid in ids if pid in profiles
            ], next_cursor

        return segment_page
    principal = Principal(
        user_id=job.created_by,
        username=job.created_by_name,
        roles=frozenset(Role(role) for role in job.roles if role in Role._value2member_map_),
    )
    resource = str(job.resource)

    def crm_page(cursor: str | None, limit: int) -> tuple[list[list[Any]], str | None]:
        documents, next_cursor = records_page(resource, job.filters, principal, cursor=cursor, limit=limit)
        return [record_cells(document, job.columns) for document in documents], next_cursor

    return crm_page


def run(
    job: ExportJob, *, reader: PageReader | None = None, settings: CustomerDataSettings | None = None
) -> StepReport:
    """One "export" step: from the job's checkpoint, pages into parts until the end or the time budget."""
    report = StepReport()
    if job.status in ("done", "failed"):
        report.outcome = f"already {job.status}"
        return report
    started = _started(job)
    if started is None:
        report.outcome = "skipped"
        return report
    report.outcome = _pages_into_parts(started, reader or reader_for(started), settings, report)
    if report.outcome == "read":
        multipart.complete(started.file_key, str(started.upload_id), started.parts + report.parts)
        exportjobs.mark_done(started.export_id, iso_utc(clock.now()))
        report.outcome = "done"
    return report


def _started(job: ExportJob) -> ExportJob | None:
    """The job with its multipart upload (started here once); None if it is not running any more."""
    if job.upload_id is not None:
        return job
    upload_id = multipart.start(job.file_key)
    if not exportjobs.set_upload(job.export_id, upload_id, iso_utc(clock.now())):
        multipart.abort(job.file_key, upload_id)  # an earlier run of this step started one
    fresh = exportjobs.get_job(job.export_id)
    if fresh is None or fresh.status != "running" or fresh.upload_id is None:
        return None
    return fresh


def _pages_into_parts(
    job: ExportJob, read: PageReader, settings: CustomerDataSettings | None, report: StepReport
) -> str:
    """Pages from the checkpoint into parts, each uploaded and checkpointed at a page's end: `read` when
    the last page is in, `continued` when the time budget handed over to a new message, `superseded`
    when another run of the step moved on."""
    settings = settings or customerdata_settings()
    upload_id = str(job.upload_id)
    started = time.monotonic()
    parts, rows, size, cursor = job.parts, job.rows, job.bytes_written, job.cursor
    part = bytearray(header_row(job.columns) if parts == 0 else b"")
    pending = 0
    pages_read = job.pages_read
    while not pages_read:
        page, next_cursor = read(cursor, settings.export_page_rows)
        report.pages += 1
        report.peak_rows_held = max(report.peak_rows_held, len(page))
        part += csv_rows(page)
        pending += len(page)
        del page
        report.peak_part_bytes = max(report.peak_part_bytes, len(part))
        cursor, pages_read = next_cursor, next_cursor is None
        if len(part) < settings.export_part_bytes and not pages_read:
            continue
        current = exportjobs.get_job(job.export_id)
        if current is None or current.status != "running" or current.parts != parts:
            return "superseded"  # another run of this step moved on (or the export ended)
        if not multipart.upload_part(job.file_key, upload_id, parts + 1, bytes(part)):
            return "superseded"  # the upload is completed or aborted
        if not exportjobs.checkpoint(
            job.export_id,
            parts_before=parts,
            rows=rows + pending,
            size=size + len(part),
            cursor=cursor,
            pages_read=pages_read,
        ):
            return "superseded"
        parts, rows, size = parts + 1, rows + pending, size + len(part)
        part, pending = bytearray(), 0
        report.parts += 1
        if not pages_read and time.monotonic() - started > settings.export_step_seconds:
            queue.enqueue([{"exportId": job.export_id, "step": "export"}])
            return "continued"
    return "read"


def handle(message: dict[str, object]) -> str:
    """One ImportQueue message of an export; what was done (for the log). A list that cannot be read any
    more (its filters refused, say) fails the export with the reason; anything else is retried."""
    job = exportjobs.get_job(str(message["exportId"]))
    return "no such export" if job is None else handle_job(job)


def handle_job(job: ExportJob) -> str:
    try:
        return run(job).outcome
    except (BadRequest, InvalidInput, NotFound) as exc:
        details = "; ".join(f"{error.get('field')}: {error.get('message')}" for error in exc.errors)
        reason = f"{exc.detail} ({details})" if details else exc.detail
        exportjobs.mark_failed(job.export_id, reason[:1000], iso_utc(clock.now()))
        if job.upload_id:
            multipart.abort(job.file_key, job.upload_id)
        return "failed"


def start(job: ExportJob) -> None:
    queue.enqueue([{"exportId": job.export_id, "step": "export"}])

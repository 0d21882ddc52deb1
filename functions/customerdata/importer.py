"""Running an import: start, split into chunks, resolve each chunk, finish. The worker's steps.

```
POST /marketing/imports            job (awaiting-upload) + presigned PUT
PUT <presigned URL>                the file into S3
POST /marketing/imports/{id}/start the upload is checked (size, encoding, columns) → queued; "split" queued
split   (ImportQueue message)      the file streamed once into chunk objects of N rows; one "chunk"
                                   message per chunk, the job → running with its totals
chunk n (ImportQueue message)      its rows → events → identity resolution (scoring.identity) and scoring
                                   → the events table; rejected rows → the chunk's error part; the counts
                                   added to the job once (customerdata.store.jobs.commit_chunk)
finish  (after the last chunk)     the error parts → one error file; the job → done
```

The worker's event source mapping bounds how many chunks run at once (MaximumConcurrency), so an import
of millions of rows never throttles the tables the tracking path writes to. Every step is idempotent: the
split writes the same chunk objects and messages again, a chunk's events are the same items (their
messageIds come from the rows), its counts are committed once, and the finish is a conditional update.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from customerdata import account_import, reading
from customerdata.config import customerdata_settings
from customerdata.imports import (
    ImportCounts,
    ImportJob,
    MappingRefused,
    RowError,
    map_columns,
    row_event,
)
from customerdata.store import files, jobs, queue
from leadstream import clock, keys
from leadstream.events import TrackedEvent
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get
from leadstream.store.profiles import DynamoProfileStore
from scoring.identity import BatchResolution, EventHook, batch_identities, event_identities, resolve_events
from tracking.logic import store_events

ERROR_HEADER = b"row,column,reason\r\n"


class ImportRefused(ValueError):
    """The file cannot be imported as a whole (encoding, columns, size); the message says what to fix."""


class NotUploaded(ImportRefused):
    """Nothing is at the upload URL yet."""


class TooLarge(ImportRefused):
    """The uploaded file is larger than an import takes."""


# --- start ---------------------------------------------------------------------------------------------
def check_upload(job: ImportJob, max_bytes: int) -> tuple[str, dict[str, str | None] | None]:
    """Is the uploaded file one we can read? Its encoding and (CSV) the columns it maps to; reads the first
    64 KB only. ImportRefused says why not."""
    size = files.size_of(job.upload_key)
    if size is None:
        raise NotUploaded("Nothing was uploaded yet: PUT the file to the job's upload URL first.")
    if size > max_bytes:
        raise TooLarge(
            f"The file is {size} bytes; an import takes at most {max_bytes} bytes: "
            "split it into smaller files."
        )
    if size == 0:
        raise ImportRefused("The uploaded file is empty.")
    stream = files.open_stream(job.upload_key)
    try:
        text, encoding = reading.open_text(stream, declared=job.encoding)
        if job.format == "jsonl":
            return encoding, None
        header, _ = reading.csv_rows(text)
        return encoding, map_columns(job.kind, header, job.mapping)
    except UnicodeDecodeError as exc:
        raise ImportRefused(reading.describe_decode_error(job.encoding, exc)) from None
    except (reading.FileRefused, MappingRefused) as exc:
        raise ImportRefused(str(exc)) from None
    finally:
        stream.close()


# --- split ---------------------------------------------------------------------------------------------
def split(job: ImportJob, chunk_rows: int) -> None:
    """Stream the upload once into chunk objects (JSON Lines of row number, values and any read error),
    then queue one message per chunk. A file that turns out unreadable past its start fails the job."""
    stream = files.open_stream(job.upload_key)
    chunks = 0
    total = 0
    try:
        text, _ = reading.open_text(stream, declared=job.encoding if job.encoding != "utf-8-sig" else "utf-8")
        rows = reading.jsonl_rows(text) if job.format == "jsonl" else reading.csv_rows(text)[1]
        for batch in _batches(rows, chunk_rows):
            body = "".join(
                json.dumps({"row": row.number, "values": row.values, "error": row.error}, default=str) + "\n"
                for row in batch
            )
            files.put(job.chunk_key(chunks), body.encode(), "application/x-ndjson")
            chunks += 1
            total += len(batch)
    except UnicodeDecodeError as exc:
        jobs.mark_failed(
            job.import_id, reading.describe_decode_error(job.encoding, exc), iso_utc(clock.now())
        )
        return
    except reading.FileRefused as exc:
        jobs.mark_failed(job.import_id, str(exc), iso_utc(clock.now()))
        return
    finally:
        stream.close()
    if not jobs.mark_running(job.import_id, chunks=chunks, total_rows=total):
        return  # failed meanwhile, or finished by an earlier run of this split
    if chunks == 0:
        queue.enqueue([{"importId": job.import_id, "step": "finish"}])
        return
    queue.enqueue([{"importId": job.import_id, "step": "chunk", "chunk": n} for n in range(chunks)])


def _batches(rows: Iterable[reading.RawRow], size: int) -> Iterator[list[reading.RawRow]]:
    batch: list[reading.RawRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- chunks --------------------------------------------------------------------------------------------
@dataclass
class ChunkResult:
    counts: ImportCounts
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # row, column, reason
    outcomes: dict[int, str] = field(default_factory=dict)  # row -> created/updated/merged/unchanged


def load_chunk(job: ImportJob, number: int) -> list[reading.RawRow]:
    rows = []
    for line in files.lines(job.chunk_key(number)):
        if line.strip():
            data = json.loads(line)
            rows.append(reading.RawRow(data["row"], data["values"], data.get("error")))
    return rows


def to_events(
    job: ImportJob, rows: Sequence[reading.RawRow], now: datetime
) -> tuple[list[tuple[int, TrackedEvent]], list[tuple[int, str, str]]]:
    """The rows' events, and the rows that cannot be imported (row, column, reason)."""
    events: list[tuple[int, TrackedEvent]] = []
    errors: list[tuple[int, str, str]] = []
    columns = job.columns or {}
    for row in rows:
        if row.error:
            errors.append((row.number, "", row.error))
            continue
        try:
            events.append((row.number, row_event(job.kind, row.values, columns, now=now)))
        except RowError as exc:
            errors.append((row.number, exc.column, exc.reason))
    return events, errors


def run_chunk(
    job: ImportJob, number: int, rows: Sequence[reading.RawRow], on_event: EventHook | None
) -> ChunkResult:
    """Import one chunk's rows (a dry run only reads) and say what became of each."""
    if job.kind == "accounts":
        counts, errors = account_import.run_chunk(job, rows)
        return ChunkResult(counts, errors)
    now = datetime.fromisoformat(job.created_at.replace("Z", "+00:00"))
    numbered, errors = to_events(job, rows, now)
    result = ChunkResult(ImportCounts(rows=len(rows), rejected=len(errors)), errors)
    seen = _stored_already([event for _, event in numbered])
    fresh = [(row, event) for row, event in numbered if event.message_id not in seen]
    for row, event in numbered:
        if event.message_id in seen:
            result.outcomes[row] = "unchanged"
    store = DynamoProfileStore()
    events = [event for _, event in fresh]
    outcomes = classify(events, store)
    for (row, _), outcome in zip(fresh, outcomes, strict=True):
        result.outcomes[row] = outcome
    if events and not job.dry_run:
        resolve_events(events, store, on_event)
        store_events(events)
    for outcome in result.outcomes.values():
        setattr(result.counts, outcome, getattr(result.counts, outcome) + 1)
    return result


def _stored_already(events: Sequence[TrackedEvent]) -> set[str]:
    """The messageIds among `events` that the events table holds: rows imported before."""
    if not events:
        return set()
    found = batch_get(
        get_settings().events_table,
        [keys.event_key(event.source_id, event.message_id) for event in events],
        consistent=False,
    )
    return {str(item["messageId"]) for item in found}


def classify(events: Sequence[TrackedEvent], store: DynamoProfileStore) -> list[str]:
    """What each event does to the people as they are stored now (read only): `created` (a new person),
    `merged` (it joins an anonymous visitor's profile), `updated` or `unchanged`."""
    if not events:
        return []
    owners = store.identity_owners(batch_identities(events))
    loaded = store.profiles(set(owners.values()))
    resolution = BatchResolution(owners, loaded)
    outcomes = []
    claimed: set[str] = set()
    for event in events:
        # Only the profiles the event's identities point at can be its target: copy those, not all.
        candidates = {resolution.owners.get(ref) for ref in event_identities(event)}
        before = {
            pid: resolution.profiles[pid].model_copy(deep=True)
            for pid in candidates
            if pid is not None and pid in resolution.profiles
        }
        merges = len(resolution.merges)
        target = resolution.apply(event)
        pid = target.profile_id
        if len(resolution.merges) > merges:
            outcomes.append("merged")
        elif pid in resolution.created and pid not in claimed:
            outcomes.append("created")
        elif pid in before and not before[pid].is_known and target.is_known:
            outcomes.append("merged")  # an anonymous visitor's profile became this person's
        elif before.get(pid) != target:
            outcomes.append("updated")
        else:
            outcomes.append("unchanged")
        claimed.add(pid)
    return outcomes


def write_errors(job: ImportJob, number: int, errors: Sequence[tuple[int, str, str]]) -> None:
    if not errors:
        return
    out = io.StringIO()
    writer = csv.writer(out)
    for row, column, reason in errors:
        writer.writerow([row, _safe_cell(column), _safe_cell(reason)])
    files.put(job.chunk_errors_key(number), out.getvalue().encode(), "text/csv")


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def process_chunk(job: ImportJob, number: int, on_event: EventHook | None) -> bool:
    """The "chunk" step: import the chunk unless it was committed before, then commit its counts and queue
    the finish after the last one. False when the chunk had been committed already."""
    if job.status != "running" or jobs.chunk_done(job.import_id, number):
        return False
    result = run_chunk(job, number, load_chunk(job, number), on_event)
    write_errors(job, number, result.errors)
    if not jobs.commit_chunk(job.import_id, number, result.counts, iso_utc(clock.now())):
        return False
    after = jobs.get_job(job.import_id)
    if after is not None and after.chunks is not None and after.chunks_done >= after.chunks:
        queue.enqueue([{"importId": job.import_id, "step": "finish"}])
    return True


# --- finish --------------------------------------------------------------------------------------------
def finish(job: ImportJob) -> None:
    """The error parts into one error file, then done (both idempotent)."""
    if job.status != "running" or job.chunks is None or job.chunks_done < job.chunks:
        return
    if job.counts.rejected:
        files.compose(
            job.error_file_key,
            (job.chunk_errors_key(n) for n in range(job.chunks)),
            ERROR_HEADER,
            "text/csv",
        )
    jobs.mark_done(job.import_id, iso_utc(clock.now()))


def handle(message: dict[str, object], on_event: Callable[[], EventHook | None]) -> str:
    """One ImportQueue message; what was done (for the log)."""
    import_id = str(message["importId"])
    job = jobs.get_job(import_id)
    if job is None:
        return "no such import"
    step = message.get("step")
    if step == "split":
        if job.status != "queued":
            return f"split skipped ({job.status})"
        split(job, customerdata_settings().chunk_rows)
        return "split"
    if step == "chunk":
        number = int(str(message["chunk"]))
        done = process_chunk(job, number, None if job.dry_run else on_event())
        return f"chunk {number}" + ("" if done else " (already done)")
    if step == "finish":
        finish(job)
        return "finish"
    return f"unknown step {step!r}"


def start_split(job: ImportJob) -> None:
    queue.enqueue([{"importId": job.import_id, "step": "split"}])

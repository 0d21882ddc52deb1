"""Customer data: exporting a segment to CSV, as the ImportWorkerFunction runs it, on an embedded moto.

Part of the customerdata section (bench/customerdata.py renders it). One moto holds the profiles of the
largest size and, per size, a segment of that many of them (memberships written as the audience function
stores them; building them through the backfill would take this bench's whole budget). Each export runs
twice: timed, step after step of the deployed length, each as the message the step before queued (members
paged 500 at a time, profiles read 100 per BatchGetItem, the CSV uploaded in parts); then its first steps,
shortened, with tracemalloc counting Python's allocations inside each step while the parts go to a sink
that drops them (moto keeps every uploaded part in this process's memory; S3 does not).

The sizes are the issue's 100,000 members and a tenth of it, with parts small enough that both span
many parts (BENCH_EXPORT_SIZES="1000,4000" for a quick look).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import stack_on_moto

# The size and a tenth of it; BENCH_EXPORT_SIZES="1000,4000" for a quick run.
SIZES = tuple(int(s) for s in os.environ.get("BENCH_EXPORT_SIZES", "10000,100000").split(","))
COLUMNS = [
    "profileId", "email", "firstName", "lastName", "company", "title", "city", "country", "stage",
    "score", "fit", "grade", "tags", "traits.plan", "traits.industry", "firstSeen",
]  # fmt: skip
# Parts as small as moto is told to take, so that both sizes span several (S3's smallest is 5 MiB, the
# deployed setting 8 MiB: a deployed step's peak is that much more, whatever the segment's size).
PART_BYTES = 64 * 1024
# The memory run: its first steps, shortened (what a step holds is one page and one part, however long it
# runs and wherever in the segment it starts).
MEMORY_STEPS = 3
MEMORY_STEP_SECONDS = 30.0


@dataclass
class ExportCost:
    members: int
    rows: int
    seconds: float
    steps: int  # steps of EXPORT_STEP_SECONDS (240 s), each handing over to the next message
    parts: int
    size_mb: float
    peak_mb: float
    steps_traced: int
    peak_rows_held: int
    peak_part_mb: float
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def measure() -> list[ExportCost]:
    with stack_on_moto() as template:
        import moto.s3.models

        os.environ["EXPORT_PART_BYTES"] = str(PART_BYTES)
        _people(max(SIZES))
        for size in SIZES:
            _members(f"seg-{size}", size)
        minimum = moto.s3.models.S3_UPLOAD_PART_MIN_SIZE
        moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = 1  # type: ignore[attr-defined]
        try:
            queue_url = str(template.physical["ImportQueue"]["Ref"])
            return [_run(size, queue_url) for size in SIZES]
        finally:
            moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = minimum  # type: ignore[attr-defined]


def _people(size: int) -> None:
    from leadstream.profiles import IdentityRef, Profile
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import batch_put
    from leadstream.store.profiles import profile_item

    profiles = []
    for n in range(size):
        email = f"person{n}@corp{n % 900}.example"
        profile = Profile.model_validate(
            {
                "profileId": f"p-{n:07d}",
                "version": 3,
                "email": email,
                "traits": {
                    "email": email,
                    "firstName": f"First{n}",
                    "lastName": f"Last{n}",
                    "company": f"Corp {n % 900}",
                    "title": "Engineer",
                    "city": "Berlin",
                    "country": "Germany",
                    "plan": f"plan-{n % 3}",
                    "industry": "Software",
                },
                "tags": ["interest:pricing", "interest:api"],
                "stage": "lead",
                "firstSeen": "2026-01-02T03:04:05Z",
            }
        )
        profile.add_identity(IdentityRef(kind="email", value=email))
        profiles.append(profile_item(profile))
    batch_put(get_settings().main_table, profiles)


def _members(segment_id: str, size: int) -> None:
    from leadstream import keys
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import batch_put

    batch_put(
        get_settings().main_table,
        [
            {**keys.segment_member_key(segment_id, f"p-{n:07d}"), "segmentId": segment_id,
             "profileId": f"p-{n:07d}", "enteredAt": "2026-01-03T00:00:00Z", "profileVersion": 3}
            for n in range(size)
        ],
    )  # fmt: skip


def _run(size: int, queue_url: str) -> ExportCost:
    from unittest import mock

    from bench.scoring import _Meter
    from customerdata import exporter
    from customerdata.config import customerdata_settings
    from customerdata.exports import ExportJob
    from customerdata.store import exportjobs, multipart
    from leadstream import clock
    from leadstream.aws import dynamodb
    from leadstream.profiles import iso_utc

    segment_id = f"seg-{size}"

    def job(number: int) -> ExportJob:
        made = ExportJob.model_validate(
            {"exportId": f"exp_{size:024x}{number:08x}", "source": "segment", "segmentId": segment_id,
             "columns": COLUMNS, "status": "queued", "createdAt": iso_utc(clock.now()), "createdBy": "bench"}
        )  # fmt: skip
        exportjobs.create_job(made)
        return made

    meter = _Meter()
    meter.install(dynamodb())
    meter.calls.clear()
    timed = job(1)
    steps, seconds = _steps(timed.export_id, queue_url, lambda: exporter.run(_job(timed.export_id)))
    calls = dict(meter.calls)
    done = exportjobs.get_job(timed.export_id)
    assert done is not None
    if done.status != "done" or done.rows != size:
        raise RuntimeError(f"the export of {size:,} members ended {done.status} with {done.rows:,} rows")

    real_upload = multipart.upload_part

    def sink(key: str, upload_id: str, number: int, body: bytes) -> bool:
        return real_upload(key, upload_id, number, b"x")  # S3 keeps the part, not the worker

    measured = job(2)
    real_reader = exporter.reader_for(measured)
    tracked = _moto_models()
    lengths = {model: len(model.instances_tracked) for model in tracked}

    def reader(cursor: str | None, limit: int) -> tuple[list[list[object]], str | None]:
        page = real_reader(cursor, limit)
        # moto keeps every model object it ever made (the copies of the items each call answers, for its
        # dashboard): this process's test double growing, not the worker's memory. Forget them per page.
        for model in tracked:
            del model.instances_tracked[lengths[model] :]
        return page

    short = customerdata_settings().model_copy(update={"export_step_seconds": MEMORY_STEP_SECONDS})
    peaks: list[int] = []
    reports: list[Any] = []

    def traced_step() -> Any:
        tracemalloc.start()
        report = exporter.run(_job(measured.export_id), reader=reader, settings=short)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        reports.append(report)
        return report

    # A plain function, not a mock: a mock would keep every part it was given.
    with mock.patch.object(multipart, "upload_part", sink):
        _steps(measured.export_id, queue_url, traced_step, limit=MEMORY_STEPS)
    return ExportCost(
        members=size,
        rows=done.rows,
        seconds=seconds,
        steps=steps,
        parts=done.parts,
        size_mb=done.bytes_written / 1e6,
        peak_mb=max(peaks) / 1e6,
        steps_traced=len(peaks),
        peak_rows_held=max(report.peak_rows_held for report in reports),
        peak_part_mb=max(report.peak_part_bytes for report in reports) / 1e6,
        calls=calls,
    )


def _job(export_id: str) -> Any:
    from customerdata.store import exportjobs

    job = exportjobs.get_job(export_id)
    assert job is not None
    return job


def _steps(export_id: str, queue_url: str, step: Callable[[], Any], limit: int = 0) -> tuple[int, float]:
    """Export steps until the job is done (or `limit` steps), each as the message that the step before it
    queued hands it over; the steps taken and their time."""
    import boto3

    from customerdata.store import exportjobs

    sqs = boto3.client("sqs")
    steps, seconds = 0, 0.0
    while (job := exportjobs.get_job(export_id)) is not None and job.status != "done":
        if limit and steps == limit:
            break
        started = time.perf_counter()
        report = step()
        seconds += time.perf_counter() - started
        steps += 1
        if report.outcome not in ("done", "continued"):
            raise RuntimeError(f"an export step ended {report.outcome}")
        # The "continued" message this loop stands for, as the worker's event source would delete it.
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return steps, seconds


def _moto_models() -> list[Any]:
    from moto.core.model_instances import model_data

    return [model for models in model_data.values() for model in models.values()]


def render(results: list[ExportCost]) -> list[str]:
    small, large = results[0], results[-1]
    lines = [
        "### Exporting a segment to CSV",
        "",
        "The export steps of the ImportWorkerFunction on an embedded moto: a segment of N members, "
        f"{len(COLUMNS)} columns,",
        f"pages of 500 members, parts of {PART_BYTES // 1024} KiB (so that both sizes span several; deployed "
        "parts are 8 MiB).",
        "Time is the whole export, step after step of the deployed 240 s, each handed over by the message",
        "the one before queued. Peak memory is Python's allocations (tracemalloc) inside a step, the",
        f"highest of the first {MEMORY_STEPS} steps of a second run with {MEMORY_STEP_SECONDS:.0f} s steps "
        "whose parts go to a sink",
        "(moto would keep them in this process; S3 keeps them outside the worker); it includes moto's",
        "handling of each page's calls.",
        "",
        "| members | rows | time (s) | rows/s | steps | parts | file (MB) | peak memory (MB) "
        "| rows held at once | largest part (KB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        lines.append(
            f"| {result.members:,} | {result.rows:,} | {result.seconds:.1f} | {result.rows_per_second:,.0f} "
            f"| {result.steps} | {result.parts} | {result.size_mb:.2f} | {result.peak_mb:.1f} "
            f"| {result.peak_rows_held} | {result.peak_part_mb * 1000:.0f} |"
        )
    ratio = large.peak_mb / small.peak_mb if small.peak_mb else 0
    per_thousand = ", ".join(
        f"{name} {count * 1000 / large.rows:.1f}" for name, count in sorted(large.calls.items())
    )
    lines += [
        "",
        f"Memory as the segment grows {large.members / small.members:.0f}x: the step's peak is {ratio:.2f}x "
        "(flat: one page of",
        "members and one part of the file are held at a time). DynamoDB calls per 1,000 rows: "
        f"{per_thousand}.",
        "Deployed, the peak adds the deployed part size (8 MiB), the same at any size.",
        "",
    ]
    return lines

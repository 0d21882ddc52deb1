"""Customer data: importing contacts, as the ImportWorkerFunction runs it, on an embedded moto.

Each size runs on an empty moto holding the template's resources: a CSV of N contacts is put where the
presigned upload would put it, the job is started as `POST /marketing/imports/{id}/start` does, then the
split runs (the whole file streamed once into chunk objects of 500 rows, one ImportQueue message each) and
the queue is drained as the worker drains it: every message through the worker's step dispatch
(customerdata.importer.handle: each chunk's identity resolution, scoring and events, then the finish).
The job must end done with every row created. Measured: rows per second, DynamoDB calls and items written
per row, and the peak of Python allocations (tracemalloc) inside the split and inside the first, middle
and last chunk, which must not grow with the file (those traced chunks are left out of the rate).

The modelled AWS cost of a million rows prices the counts measured here at us-east-1 on-demand rates.
Exports of a segment to CSV are measured by bench/customerdata_exports.py, in the same section.
"""

from __future__ import annotations

import json
import math
import os
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from bench import customerdata_exports, stack_on_moto
from bench.scoring import READ_CALLS, WRITE_CALLS, _Meter

# The 100,000 contacts and a tenth of it; BENCH_IMPORT_SIZES="1000,4000" for a quick run.
SIZES = tuple(int(s) for s in os.environ.get("BENCH_IMPORT_SIZES", "10000,100000").split(","))

# us-east-1 on-demand prices (USD).
WRU = 1.25 / 1e6
RRU = 0.25 / 1e6
LAMBDA_GB_SECOND = 0.0000133334  # arm64
LAMBDA_REQUEST = 0.20 / 1e6
SQS_REQUEST = 0.40 / 1e6
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
WORKER_MEMORY_GB = 1.0  # template.yaml: ImportWorkerFunction MemorySize 1024


@dataclass
class ImportCost:
    rows: int
    rows_imported: int  # rows the job counts as created, updated, merged or unchanged
    rows_timed: int  # rows of the chunks timed (every chunk but the traced ones)
    split_seconds: float
    import_seconds: float  # the timed chunks' time
    split_peak_mb: float
    chunk_peak_mb: float
    calls: dict[str, int] = field(default_factory=dict)  # DynamoDB calls while importing chunks
    transact_items: int = 0
    batch_put_items: int = 0
    profile_item_kb: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows_timed / self.import_seconds if self.import_seconds else 0.0

    def per_row(self, names: tuple[str, ...]) -> float:
        return sum(self.calls.get(name, 0) for name in names) / max(self.rows_imported, 1)

    @property
    def write_units_per_row(self) -> float:
        """Transactions cost 2 write units per KB of each item; BatchWriteItem puts (events) 1 per KB."""
        transact = self.transact_items * 2 * max(1, math.ceil(self.profile_item_kb))
        return (transact + self.batch_put_items) / max(self.rows_imported, 1)


@dataclass
class CustomerDataCost:
    imports: list[ImportCost]
    exports: list[customerdata_exports.ExportCost]


def measure() -> CustomerDataCost:
    return CustomerDataCost(imports=measure_imports(), exports=customerdata_exports.measure())


def measure_imports() -> list[ImportCost]:
    results = []
    for size in SIZES:
        with stack_on_moto() as template:
            results.append(_run(size, template))
    return results


def _csv(rows: int) -> bytes:
    lines = ["Email,First Name,Last Name,Company,Job Title,Country,Plan"]
    lines += [
        f"person{n}@corp{n % 900}.example,First{n},Last{n},Corp {n % 900},Engineer,Germany,plan-{n % 3}"
        for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def _run(size: int, template: Any) -> ImportCost:
    import boto3

    from customerdata import importer
    from customerdata.config import customerdata_settings
    from customerdata.imports import ImportJob
    from customerdata.store import jobs
    from leadstream import clock
    from leadstream.aws import dynamodb
    from leadstream.profiles import iso_utc

    job = ImportJob.model_validate(
        {"importId": f"imp_{size:032x}", "kind": "contacts", "status": "awaiting-upload",
         "fileName": "contacts.csv", "format": "csv", "encoding": "auto", "size": 1, "dryRun": False,
         "createdAt": iso_utc(clock.now()), "createdBy": "bench"}
    )  # fmt: skip
    jobs.create_job(job)
    bucket = str(template.physical["CustomerDataBucket"]["Ref"])
    content = _csv(size)
    boto3.client("s3").put_object(Bucket=bucket, Key=job.upload_key, Body=content)
    encoding, columns = importer.check_upload(job, customerdata_settings().max_upload_bytes)
    jobs.mark_queued(job.import_id, encoding=encoding, columns=columns, at=iso_utc(clock.now()))
    queued = jobs.get_job(job.import_id)
    assert queued is not None

    split_peak = _split_memory(queued, content)
    started = time.perf_counter()
    importer.split(queued, customerdata_settings().chunk_rows)
    split_seconds = time.perf_counter() - started

    running = jobs.get_job(job.import_id)
    assert running is not None
    assert running.chunks is not None
    meter = _Meter()
    meter.install(dynamodb())
    meter.calls.clear()
    drained = _drain(str(template.physical["ImportQueue"]["Ref"]), running.chunks, size)
    done = jobs.get_job(job.import_id)
    assert done is not None
    counts = done.counts.model_dump()
    if done.status != "done" or counts.get("created") != size:
        raise RuntimeError(f"the import of {size:,} rows ended {done.status} with {counts}")
    return ImportCost(
        rows=size,
        rows_imported=size,
        rows_timed=drained.rows_timed,
        split_seconds=split_seconds,
        import_seconds=drained.seconds,
        split_peak_mb=split_peak / 1e6,
        chunk_peak_mb=max(drained.peaks) / 1e6,
        calls=dict(meter.calls),
        transact_items=meter.items,
        batch_put_items=_batch_put_items(meter),
        profile_item_kb=_profile_item_kb(),
        counts=counts,
    )


@dataclass
class _Drained:
    seconds: float = 0.0
    rows_timed: int = 0
    peaks: list[int] = field(default_factory=list)


def _drain(queue_url: str, chunks: int, size: int) -> _Drained:
    """Every ImportQueue message through the worker's step dispatch, as the ImportWorkerFunction's event
    source hands them over, until the queue is empty (the last chunk queues the finish)."""
    import boto3

    from customerdata import importer
    from customerdata.config import customerdata_settings
    from scoring.engagement import Scorer
    from scoring.store.config import scoring_config

    sqs = boto3.client("sqs")
    scorer = Scorer(scoring_config())
    chunk_rows = customerdata_settings().chunk_rows
    # First, middle and last; a file of a few chunks (a quick run) keeps the rest for the rate.
    traced = {0, chunks // 2, chunks - 1} if chunks > 3 else {0}
    drained = _Drained()
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            body = json.loads(message["Body"])
            number = body.get("chunk")
            if number in traced:
                tracemalloc.start()
                importer.handle(body, lambda: scorer)
                drained.peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            else:
                started = time.perf_counter()
                importer.handle(body, lambda: scorer)
                if number is not None:
                    drained.seconds += time.perf_counter() - started
                    drained.rows_timed += min(chunk_rows, size - int(number) * chunk_rows)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return drained


def _split_memory(job: Any, content: bytes) -> int:
    """The split's own peak allocations: the same split, its upload streamed from a file and its chunk
    objects counted and dropped. (moto, in this process, keeps whole objects in memory and answers a
    GetObject with the whole body; S3 streams it, and its storage is not the worker's memory.)"""
    import tempfile
    from unittest import mock

    from customerdata import importer
    from customerdata.store import files, jobs, queue

    with tempfile.TemporaryFile() as upload:
        upload.write(content)
        upload.seek(0)
        with (
            # Plain functions, not mocks: a mock would keep every chunk it was given.
            mock.patch.object(files, "open_stream", lambda _key: upload),  # noqa: PT008
            mock.patch.object(files, "put", lambda _key, _body, _type: None),  # noqa: PT008
            mock.patch.object(jobs, "mark_running", lambda *_a, **_k: False),  # noqa: PT008
            mock.patch.object(queue, "enqueue", lambda _messages: None),  # noqa: PT008
        ):
            tracemalloc.start()
            importer.split(job, 500)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return peak


def _batch_put_items(meter: _Meter) -> int:
    """Events put per row: one per imported row (BatchWriteItem, 25 per call)."""
    return meter.calls.get("BatchWriteItem", 0) * 25


def _profile_item_kb() -> float:
    """The mean size of a stored profile item (what each profile transaction writes)."""
    import boto3

    from leadstream.settings import get_settings

    items = boto3.client("dynamodb").scan(
        TableName=get_settings().main_table,
        FilterExpression="sk = :p",
        ExpressionAttributeValues={":p": {"S": "PROFILE"}},
        Limit=2000,
    )["Items"]
    sizes = [len(str(item)) for item in items]
    return sum(sizes) / len(sizes) / 1024 if sizes else 1.0


def render(result: CustomerDataCost) -> list[str]:
    return render_imports(result.imports) + customerdata_exports.render(result.exports)


def render_imports(results: list[ImportCost]) -> list[str]:
    small, large = results[0], results[-1]
    lines = [
        "## Customer data: importing contacts (bench/customerdata.py)",
        "",
        "Command: `make bench ONLY=customerdata`. The ImportWorkerFunction's steps on an embedded moto:",
        "the split of the whole file into chunks of 500 rows, then every ImportQueue message drained",
        "through the worker's step dispatch (each chunk's identity resolution, scoring and events, then",
        "the finish); each import ends done with every row created. rows/s is over the chunks not traced",
        "for memory. The split's memory is measured on the same split with its upload streamed from a",
        "file and its chunks dropped once written (moto keeps objects in this process's memory; S3 does",
        "not). Peak memory is Python's allocations (tracemalloc) inside one step, a chunk's the highest of",
        "the first, middle and last chunk's, moto's included.",
        "",
        "| rows in the file | rows created | rows/s | split (s) | split peak (MB) | chunk peak (MB) "
        "| DynamoDB writes per row | reads per row | write units per row |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        lines.append(
            f"| {result.rows:,} | {result.counts.get('created', 0):,} | {result.rows_per_second:,.0f} "
            f"| {result.split_seconds:.1f} | {result.split_peak_mb:.1f} | {result.chunk_peak_mb:.1f} "
            f"| {result.per_row(WRITE_CALLS):.2f} | {result.per_row(READ_CALLS):.3f} "
            f"| {result.write_units_per_row:.1f} |"
        )
    ratio_split = large.split_peak_mb / small.split_peak_mb if small.split_peak_mb else 0
    ratio_chunk = large.chunk_peak_mb / small.chunk_peak_mb if small.chunk_peak_mb else 0
    lines += [
        "",
        f"Memory as the file grows {large.rows / small.rows:.0f}x: the split's peak is "
        f"{ratio_split:.2f}x, a chunk's {ratio_chunk:.2f}x (flat: one",
        "chunk of rows is held at a time). Calls per row at "
        f"{large.rows:,} rows: "
        + ", ".join(
            f"{name} {count / large.rows_imported:.3f}" for name, count in sorted(large.calls.items())
        )
        + ".",
        f"Counts of the {large.rows:,}-row import: "
        + ", ".join(f"{k} {v:,}" for k, v in large.counts.items())
        + ".",
        "",
    ]
    lines += _cost_lines(large)
    return lines


def _cost_lines(result: ImportCost) -> list[str]:
    rows = 1_000_000
    write_units = result.write_units_per_row * rows
    # Reads: BatchGetItem keys of identities and profiles (twice: classification, then resolution) and
    # of the events (is the row imported already?); eventually consistent for the events, 0.5 unit each.
    read_units = result.per_row(READ_CALLS) * 100 * rows * 0.5
    chunks = rows / 500
    seconds_per_row = result.import_seconds / max(result.rows_timed, 1)
    lambda_cost = seconds_per_row * rows * WORKER_MEMORY_GB * LAMBDA_GB_SECOND + (chunks + 2) * LAMBDA_REQUEST
    sqs_cost = (chunks + 2) * 3 * SQS_REQUEST  # send, receive, delete
    s3_cost = (chunks * 2 + 2) * S3_PUT + (chunks + 2) * S3_GET
    dynamo_cost = write_units * WRU + read_units * RRU
    # The events stream hands each imported event to the ScoringFunction, which finds it applied already:
    # a BatchGetItem of identities and profiles per 100 events, nothing written.
    stream_reads = rows / 100 * 2 * 100 * 0.5 * RRU
    total = dynamo_cost + lambda_cost + sqs_cost + s3_cost + stream_reads
    return [
        "Modelled AWS cost of importing 1,000,000 contacts (us-east-1 on-demand; the counts above, with",
        f"{result.profile_item_kb:.1f} KB profile items; Lambda time is moto's upper bound):",
        "",
        "| part | how much | USD |",
        "| --- | --- | --- |",
        f"| DynamoDB writes | {write_units / 1e6:.1f} M write units | {write_units * WRU:.2f} |",
        f"| DynamoDB reads (worker) | {read_units / 1e6:.2f} M read units | {read_units * RRU:.2f} |",
        f"| DynamoDB reads (scoring stream, replay) | {rows / 100 * 100:,.0f} keys | {stream_reads:.2f} |",
        f"| Lambda (1 GB, arm64) | {seconds_per_row * rows / 3600:.1f} h | {lambda_cost:.2f} |",
        f"| SQS | {(chunks + 2) * 3:,.0f} requests | {sqs_cost:.4f} |",
        f"| S3 | {chunks * 2 + 2:,.0f} PUTs, {chunks + 2:,.0f} GETs | {s3_cost:.4f} |",
        f"| total | | {total:.2f} |",
        "",
    ]

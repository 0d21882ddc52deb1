"""Customer data: importing contacts, as the ImportWorkerFunction runs it, on an embedded moto.

Each size runs on an empty moto holding the template's resources: a CSV of N contacts is put where the
presigned upload would put it, the job is started as `POST /marketing/imports/{id}/start` does, then the
worker's steps run in order: the split (the whole file streamed once into chunk objects of 500 rows), then
the first SAMPLE_CHUNKS chunks (identity resolution, scoring, the events table). Measured: rows per
second, DynamoDB calls and items written per row, and the peak of Python allocations (tracemalloc) inside
the worker's steps, which must not grow with the file. Every chunk is the same work whatever the file's
size, so the sample's rate and memory are the file's; importing all 200 chunks of 100,000 rows on moto
takes longer than this bench may run (about 10 ms per row on a quiet machine, most of it moto's).

The modelled AWS cost of a million rows prices the counts measured here at us-east-1 on-demand rates.
Exports of a segment to CSV are measured by bench/customerdata_exports.py, in the same section.
"""

from __future__ import annotations

import math
import os
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from bench import customerdata_exports
from bench.scoring import READ_CALLS, WRITE_CALLS, _Meter

SIZES = (10_000, 100_000)
SAMPLE_CHUNKS = 4  # chunks imported per size (2,000 rows)

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
    rows_imported: int  # rows whose chunks ran (all of them, or the sample)
    split_seconds: float
    import_seconds: float
    split_peak_mb: float
    chunk_peak_mb: float
    calls: dict[str, int] = field(default_factory=dict)  # DynamoDB calls while importing chunks
    transact_items: int = 0
    batch_put_items: int = 0
    profile_item_kb: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows_imported / self.import_seconds if self.import_seconds else 0.0

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
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        os.environ.setdefault(key, value)
    return [_in_fresh_moto(size) for size in SIZES]


def _csv(rows: int) -> bytes:
    lines = ["Email,First Name,Last Name,Company,Job Title,Country,Plan"]
    lines += [
        f"person{n}@corp{n % 900}.example,First{n},Last{n},Corp {n % 900},Engineer,Germany,plan-{n % 3}"
        for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def _in_fresh_moto(size: int) -> ImportCost:
    from moto import mock_aws

    from leadstream_local import moto_speedups

    moto_speedups.install()
    with mock_aws():
        import boto3

        from leadstream_local.stack import _clear_shared_caches
        from leadstream_local.template import StackTemplate

        template = StackTemplate.load()
        template.create_resources(boto3.client)
        for function in template.functions():
            for key, value in function.environment.items():
                if key != "POWERTOOLS_SERVICE_NAME":
                    os.environ[key] = str(value)
        _clear_shared_caches()
        return _run(size, template)


def _run(size: int, template: Any) -> ImportCost:
    import boto3

    from customerdata import importer
    from customerdata.config import customerdata_settings
    from customerdata.imports import ImportJob
    from customerdata.store import jobs
    from leadstream import clock
    from leadstream.aws import dynamodb
    from leadstream.profiles import iso_utc
    from scoring.engagement import Scorer
    from scoring.store.config import scoring_config

    job = ImportJob.model_validate(
        {"importId": f"imp_{size:032x}", "kind": "contacts", "status": "awaiting-upload",
         "fileName": "contacts.csv", "format": "csv", "encoding": "auto", "size": 1, "dryRun": False,
         "createdAt": iso_utc(clock.now()), "createdBy": "bench"}
    )  # fmt: skip
    jobs.create_job(job)
    bucket = str(template.physical["CustomerDataBucket"]["Ref"])
    boto3.client("s3").put_object(Bucket=bucket, Key=job.upload_key, Body=_csv(size))
    encoding, columns = importer.check_upload(job, customerdata_settings().max_upload_bytes)
    jobs.mark_queued(job.import_id, encoding=encoding, columns=columns, at=iso_utc(clock.now()))
    queued = jobs.get_job(job.import_id)
    assert queued is not None
    sqs = boto3.client("sqs")
    queue = str(template.physical["ImportQueue"]["Ref"])

    split_peak = _split_memory(queued, _csv(size))
    started = time.perf_counter()
    importer.split(queued, customerdata_settings().chunk_rows)
    split_seconds = time.perf_counter() - started
    sqs.purge_queue(QueueUrl=queue)  # the chunk messages: this bench runs the chunks itself

    running = jobs.get_job(job.import_id)
    assert running is not None
    assert running.chunks is not None
    chunks = min(SAMPLE_CHUNKS, running.chunks)
    scorer = Scorer(scoring_config())
    meter = _Meter()
    meter.install(dynamodb())
    meter.calls.clear()
    peaks = []
    elapsed = 0.0
    for number in range(chunks):
        current = jobs.get_job(job.import_id)
        assert current is not None
        tracemalloc.start()
        started = time.perf_counter()
        importer.process_chunk(current, number, scorer)
        elapsed += time.perf_counter() - started
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    done = jobs.get_job(job.import_id)
    assert done is not None
    batch_put_items = _batch_put_items(meter)
    return ImportCost(
        rows=size,
        rows_imported=min(size, chunks * customerdata_settings().chunk_rows),
        split_seconds=split_seconds,
        import_seconds=elapsed,
        split_peak_mb=split_peak / 1e6,
        chunk_peak_mb=max(peaks) / 1e6,
        calls=dict(meter.calls),
        transact_items=meter.items,
        batch_put_items=batch_put_items,
        profile_item_kb=_profile_item_kb(),
        counts=done.counts.model_dump(),
    )


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
        "Command: `make bench ONLY=customerdata`. The ImportWorkerFunction's steps on an embedded moto",
        "(the split of the whole file, then its first chunks of 500 rows: identity resolution, scoring, the",
        f"events table; {small.rows_imported:,} rows per size). Importing every chunk of 100,000 rows on",
        "moto takes longer than this bench may run here; every chunk is the same work whatever the file's",
        "size. The split's memory is measured on the same split with its upload streamed from a file and",
        "its chunks dropped once written (moto keeps objects in this process's memory; S3 does not).",
        "Peak memory is Python's allocations (tracemalloc) inside one step; a chunk's includes moto's.",
        "",
        "| rows in the file | rows imported | rows/s | split (s) | split peak (MB) | chunk peak (MB) "
        "| DynamoDB writes per row | reads per row | write units per row |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        lines.append(
            f"| {result.rows:,} | {result.rows_imported:,} | {result.rows_per_second:,.0f} "
            f"| {result.split_seconds:.1f} | {result.split_peak_mb:.1f} | {result.chunk_peak_mb:.1f} "
            f"| {result.per_row(WRITE_CALLS):.2f} | {result.per_row(READ_CALLS):.3f} "
            f"| {result.write_units_per_row:.1f} |"
        )
    ratio_split = large.split_peak_mb / small.split_peak_mb if small.split_peak_mb else 0
    ratio_chunk = large.chunk_peak_mb / small.chunk_peak_mb if small.chunk_peak_mb else 0
    lines += [
        "",
        f"Memory as the file grows tenfold: the split's peak is {ratio_split:.2f}x, a chunk's "
        f"{ratio_chunk:.2f}x (flat: one",
        "chunk of rows is held at a time). Calls per row at "
        f"{small.rows:,} rows: "
        + ", ".join(
            f"{name} {count / small.rows_imported:.3f}" for name, count in sorted(small.calls.items())
        )
        + ".",
        f"Counts of the {small.rows:,}-row import: "
        + ", ".join(f"{k} {v:,}" for k, v in small.counts.items())
        + ".",
        "",
    ]
    lines += _cost_lines(small)
    return lines


def _cost_lines(result: ImportCost) -> list[str]:
    rows = 1_000_000
    write_units = result.write_units_per_row * rows
    # Reads: BatchGetItem keys of identities and profiles (twice: classification, then resolution) and
    # of the events (is the row imported already?); eventually consistent for the events, 0.5 unit each.
    read_units = result.per_row(READ_CALLS) * 100 * rows * 0.5
    chunks = rows / 500
    seconds_per_row = result.import_seconds / max(result.rows_imported, 1)
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

"""`make bench`: run the benchmarks and write their numbers into docs/benchmarks.md.

`make bench` runs every section and rewrites the file; `make bench ONLY="website lake"` runs just the
named sections and replaces only their part of the file (each part starts with a `<!-- bench: name -->`
marker and says when it was measured), so one domain's numbers can be refreshed without the others.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from bench import (
    closedloop,
    coldstart,
    consent,
    crm,
    customerdata,
    erasure,
    fanout,
    ingestion,
    integrations,
    lake,
    scoring,
    segments,
    website,
)
from leadstream_local.template import REPO_ROOT

COMMAND = "make bench"
DOCUMENT = REPO_ROOT / "docs" / "benchmarks.md"
MARKER = "<!-- bench: {name} -->"
MARKER_PATTERN = re.compile(r"^<!-- bench: ([a-z_-]+) -->$", re.MULTILINE)


def ingestion_section() -> list[str]:
    ingest = ingestion.measure()
    ours, bare = ingest.ours_events_per_second, ingest.bare_events_per_second
    return [
        "## Ingestion: `POST /v1/batch`, 100 events per request, local stack",
        "",
        f"Command: `{COMMAND}` (bench/ingestion.py). {ingest.events:,} events over keep-alive HTTP, in",
        f"{ingestion.ROUNDS} rounds alternating with the bare write; median time per 100 events. The HTTP",
        "client (an SDK's part) runs in a process of its own; the bare writer runs beside moto, as the",
        "handler's DynamoDB client does. Stream triggers are off: both sides put the same items into the",
        "same moto and nothing else.",
        "",
        "| path | events/s |",
        "| --- | --- |",
        f"| ours: HTTP → API Gateway event → tracking handler → moto | {ours:,.0f} |",
        f"| bare: boto3 `batch_write_item` of the same items → moto | {bare:,.0f} |",
        f"| **ratio (ours takes x times the bare write; target ≤ 1.3)** | **{ingest.ratio:.2f}x** |",
        "",
        f"DynamoDB calls per ingested event: **{ingest.dynamodb_calls_per_event:.3f}** (target ≤ 0.05): four",
        "BatchWriteItem calls of 25 items per 100-event request; the source lookup is cached per container.",
    ]


def coldstart_section() -> list[str]:
    cold = coldstart.measure()
    lines = [
        "## Cold start: importing each handler module in a fresh interpreter",
        "",
        f"Command: `{COMMAND}` (bench/coldstart.py). Median of {coldstart.RUNS} fresh `python -c 'import …'`",
        "runs each, interleaved; bytecode compiled beforehand, as pip does for the packages. Target: every",
        "function ≤ 1.5x `import boto3`. Models build their validators on first use (leadstream/models.py),",
        "so an import pays only for the classes, not for every validator a function might need.",
        "",
        "| module | median ms | ratio to `import boto3` |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {cost.label} | {cost.median_ms:.0f} | {cost.ratio:.2f}x |" for cost in cold.imports]
    lines += [
        "",
        "## First request: the import plus the first AWS call",
        "",
        f"Command: `{COMMAND}` (bench/coldstart.py). Same runs: a fresh interpreter imports the handler,",
        f"then makes its first AWS call through our client (`{coldstart.FIRST_CALL}`) to a moto server on",
        "loopback; boto3 and the client's service model load here, as in a cold invocation. The baseline",
        f"is the same call with bare boto3 (`{coldstart.BARE_FIRST_CALL}`).",
        "",
        "| function | median ms | ratio to bare boto3's first call |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {cost.label} | {cost.median_ms:.0f} | {cost.ratio:.2f}x |" for cost in cold.first_requests]
    return lines


# Every section in the order of the document: its name (for ONLY=) and what measures and renders it.
SECTIONS: dict[str, Callable[[], list[str]]] = {
    "ingestion": ingestion_section,
    "coldstart": coldstart_section,
    "crm": lambda: crm.render(crm.measure()),
    "scoring": lambda: scoring.render(scoring.measure()),
    "segments": lambda: segments.render(segments.measure()),
    "fanout": lambda: fanout.render(fanout.measure()),
    "lake": lambda: lake.render(lake.measure()),
    "closedloop": lambda: closedloop.render(closedloop.measure()),
    "website": lambda: website.render(website.measure()),
    "integrations": lambda: integrations.render(integrations.measure()),
    "customerdata": lambda: customerdata.render(customerdata.measure()),
    "consent": lambda: consent.render(consent.measure()),
    "erasure": lambda: erasure.render(erasure.measure()),
}


def header() -> list[str]:
    return [
        "# Benchmarks",
        "",
        f'Produced by `{COMMAND}` (every section) or `{COMMAND} ONLY="name …"` (the named sections; their',
        "markers below give the names). Each section says when and on what machine it was measured.",
        "Machines are shared and noisy: compare the ratios (both sides measured in the same run) and the",
        "counts, not the absolute times.",
        "",
    ]


def measured_section(name: str) -> str:
    """One section: its marker, its heading, when and where it ran, then the rest of its lines."""
    print(f"{name} ...", flush=True)
    lines = SECTIONS[name]()
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"
    stamp = f"_Measured {datetime.now(UTC):%Y-%m-%d} ({machine})._"
    return "\n".join([MARKER.format(name=name), lines[0], "", stamp, *lines[1:]]).rstrip("\n") + "\n"


def existing_sections(text: str) -> dict[str, str]:
    """The sections of the current document by name, each from its marker up to the next marker."""
    marks = list(MARKER_PATTERN.finditer(text))
    ends = [mark.start() for mark in marks[1:]] + [len(text)]
    return {
        mark.group(1): text[mark.start() : end].rstrip("\n") + "\n"
        for mark, end in zip(marks, ends, strict=True)
    }


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    sections = existing_sections(DOCUMENT.read_text()) if names and DOCUMENT.exists() else {}
    for name in names or list(SECTIONS):
        sections[name] = measured_section(name)
    missing = [name for name in SECTIONS if name not in sections]
    if missing:
        print(f"docs/benchmarks.md has no section {', '.join(missing)} yet: run `{COMMAND}`", file=sys.stderr)
        return 2
    report = "\n".join(header()) + "\n" + "\n".join(sections[name] for name in SECTIONS)
    DOCUMENT.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Ingestion: events/s through POST /v1/batch on the local stack, against bare batch_write_item to the
same moto, and DynamoDB calls per ingested event.

The stack (API server, tracking handler, moto) runs in this process. The HTTP client, standing in for an
SDK, runs in a child process, as an SDK runs elsewhere; the bare writer runs here, beside moto, exactly as
the handler's own DynamoDB client does. So each side's AWS client shares an interpreter with moto alike.
"""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

BATCH_SIZE = 100
BATCHES_PER_ROUND = 10
ROUNDS = 6
WARM_UP_BATCHES = 3


@dataclass(frozen=True)
class IngestionResult:
    events: int
    ours_events_per_second: float
    bare_events_per_second: float
    dynamodb_calls_per_event: float

    @property
    def ratio(self) -> float:
        """How much longer our path takes than the bare write of the same items."""
        return self.bare_events_per_second / self.ours_events_per_second


def make_events(count: int) -> list[dict[str, Any]]:
    """A realistic mix: page views and tracks from 100 visitors."""
    events = []
    for number in range(count):
        common = {
            "messageId": str(uuid.uuid4()),
            "anonymousId": f"visitor-{number % 100}",
            "timestamp": "2026-11-23T10:00:00Z",
            "context": {"page": {"url": f"https://www.example.com/p/{number % 7}"}},
        }
        if number % 3:
            events.append({"type": "page", "name": f"Page {number % 7}", **common})
        else:
            events.append({"type": "track", "event": "Clicked CTA", "properties": {"cta": "hero"}, **common})
    return events


# --- the SDK stand-in (run as `python -m bench.ingestion URL WRITE_KEY BATCHES` in a child process) ------
def post_batches(
    url: str, write_key: str, batches: int, make: Callable[[int], list[dict[str, Any]]] = make_events
) -> list[float]:
    """POST `batches` bodies of BATCH_SIZE events (built by `make`, before timing) over one keep-alive
    connection; the time of each request."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    bodies = [json.dumps({"batch": make(BATCH_SIZE)}).encode() for _ in range(batches)]
    timings = []
    for body in bodies:
        started = time.perf_counter()
        connection.request("POST", "/v1/batch", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        timings.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"ingestion failed: {response.status} {answer[:300]!r}")
    connection.close()
    return timings


def bare_write(aws_url: str, table: str, source_id: str, batches: int) -> list[float]:
    """Put the items our path would store for as many events, built and serialized before timing."""
    from datetime import UTC, datetime

    import boto3

    from leadstream import keys
    from leadstream.events import SegmentMessage
    from leadstream.store.dynamo import serialize

    client = boto3.client("dynamodb", endpoint_url=aws_url, region_name="us-east-1")
    now = datetime.now(UTC)
    prepared = []
    for _ in range(batches):
        tracked = [
            SegmentMessage.model_validate(raw).to_tracked(source_id, now) for raw in make_events(BATCH_SIZE)
        ]
        prepared.append([serialize(e.to_item(keys.event_key(source_id, e.message_id), 1)) for e in tracked])
    timings = []
    for items in prepared:
        started = time.perf_counter()
        for start in range(0, len(items), 25):
            requests: Any = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            while requests:
                response = client.batch_write_item(RequestItems={table: requests})
                requests = response.get("UnprocessedItems", {}).get(table, [])
        timings.append(time.perf_counter() - started)
    return timings


def _post_from_child(*args: str) -> list[float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.ingestion", *args], capture_output=True, text=True, check=True
    ).stdout
    timings: list[float] = json.loads(output.strip().splitlines()[-1])
    return timings


def measure() -> IngestionResult:
    from leadstream.aws import dynamodb
    from leadstream.settings import get_settings
    from leadstream_local.stack import LocalStack
    from tracking.store.sources import source_by_write_key

    # Stream triggers off: this measures the HTTP path alone, as the bare write has no consumer either.
    with LocalStack(port=0, aws_port=0, triggers=False) as stack:
        source = source_by_write_key(stack.write_key)
        assert source is not None
        _post_from_child(stack.url, stack.write_key, str(WARM_UP_BATCHES))
        calls = 0

        def count(**_: Any) -> None:
            nonlocal calls
            calls += 1

        dynamodb().meta.events.register("before-call.dynamodb", count)
        ours: list[float] = []
        bare: list[float] = []
        for _ in range(ROUNDS):  # alternate, so a noisy moment hits both paths alike
            ours += _post_from_child(stack.url, stack.write_key, str(BATCHES_PER_ROUND))
            bare += bare_write(
                stack.aws_url, get_settings().events_table, source.source_id, BATCHES_PER_ROUND
            )
        dynamodb().meta.events.unregister("before-call.dynamodb", count)
    return IngestionResult(
        events=len(ours) * BATCH_SIZE,
        ours_events_per_second=BATCH_SIZE / statistics.median(ours),
        bare_events_per_second=BATCH_SIZE / statistics.median(bare),
        dynamodb_calls_per_event=calls / (len(ours) * BATCH_SIZE),
    )


if __name__ == "__main__":
    url, write_key, batches = sys.argv[1:]
    print(json.dumps(post_batches(url, write_key, int(batches))))

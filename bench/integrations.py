"""Integrations: webhook fan-out (deliveries per second to a local receiver, AWS calls per delivered event)
and the cost of geolocation at ingest (µs per lookup, the first lookup's import, the ingest ratio).

Webhooks: moto in-process holds the template's resources; ten active subscriptions point at one receiver on
loopback (a threaded HTTP server answering 204); catalog events are put on the bus, its rule puts them on
the webhook queue, and the queue is pumped into `handlers.webhooks` as Lambda would (batches of 10). Timed:
from the first receive until every (event, subscription) was delivered.

Geolocation: the lookup on a warm reader over addresses spread across public blocks; the first lookup in a
fresh interpreter (import of the reader and opening the database); and bench/ingestion.py's method (POST
/v1/batch on the local stack against bare batch_write_item to the same moto) run twice on events that each
carry a public `context.ip`: with the lookup, and with the lookup switched off, so the difference is its
share of ingest.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import stack_on_moto, use_moto_environment

SUBSCRIPTIONS = 10
EVENTS = 40
LOOKUPS = 20_000
INGEST_ROUNDS = 4
INGEST_BATCHES = 8
BATCH_SIZE = 100


@dataclass(frozen=True)
class WebhookResult:
    events: int
    deliveries: int
    seconds: float
    calls: dict[str, int]  # AWS calls by service.operation, fan-out and attempts included

    @property
    def per_second(self) -> float:
        return self.deliveries / self.seconds


@dataclass(frozen=True)
class GeoResult:
    lookup_us: float  # median per lookup, first pass over the sample (pages of the file read from disk)
    warm_lookup_us: float  # second pass: the pages in memory
    cached_lookup_us: float  # an address looked up recently (the cache of recent answers)
    first_lookup_ms: float  # import + open + one lookup, fresh interpreter
    import_ms: float  # of which importing the reader
    located_share: float  # of the sample addresses, how many got a country
    ratio_with: float  # ours / bare, events located
    ratio_without: float  # ours / bare, lookup off
    events_per_second_with: float
    events_per_second_without: float


@dataclass(frozen=True)
class IntegrationsResult:
    webhooks: WebhookResult
    geo: GeoResult


def measure() -> IntegrationsResult:
    use_moto_environment()
    return IntegrationsResult(webhooks=measure_webhooks(), geo=measure_geo())


# --- webhooks ---------------------------------------------------------------------------------------------
@contextmanager
def _receiver() -> Iterator[tuple[str, list[int]]]:
    received: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            received.append(1)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def measure_webhooks() -> WebhookResult:
    with stack_on_moto(WebhookAllowLoopback="true") as template:
        import boto3

        from handlers.webhooks import lambda_handler
        from integrations import webhooks
        from integrations.catalog import make
        from integrations.store.bus import put_events
        from leadstream.aws import dynamodb, eventbridge, sqs
        from leadstream_local.lambda_events import sqs_record

        calls: Counter[str] = Counter()

        def count(model: Any, **_: Any) -> None:
            calls[f"{model.service_model.service_name}.{model.name}"] += 1

        for client in (dynamodb(), sqs(), eventbridge()):
            client.meta.events.register("before-call", count)
        queue_url = template.physical["WebhookQueue"]["Ref"]
        queue_arn = template.physical["WebhookQueue"]["Arn"]
        raw_sqs = boto3.client("sqs")

        class Context:
            function_name = "WebhookFunction"
            memory_limit_in_mb = 512
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:WebhookFunction"
            aws_request_id = "bench"

        with _receiver() as (url, received):
            for number in range(SUBSCRIPTIONS):
                body = webhooks.SubscriptionInput.model_validate({"url": url, "eventTypes": ["*"]})
                webhooks.create_subscription(body, user=f"bench-{number}")
            events = [
                make(
                    "deal.won",
                    ("deal", f"d-{n}", 2),
                    "2026-11-23T12:00:00Z",
                    {"dealId": f"d-{n}", "outcome": "won"},
                )
                for n in range(EVENTS)
            ]
            for start in range(0, len(events), 10):
                put_events(events[start : start + 10])
            calls.clear()
            started = time.perf_counter()
            wanted = EVENTS * SUBSCRIPTIONS
            while len(received) < wanted:
                messages = raw_sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
                ).get("Messages", [])
                if not messages:
                    if time.perf_counter() - started > 120:
                        raise RuntimeError(f"only {len(received)} of {wanted} deliveries")
                    continue
                records = [sqs_record(message, queue_arn=queue_arn) for message in messages]
                result = lambda_handler({"Records": records}, Context())
                failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
                for message in messages:
                    if message["MessageId"] not in failed:
                        handle = message["ReceiptHandle"]
                        raw_sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
            seconds = time.perf_counter() - started
        return WebhookResult(events=EVENTS, deliveries=len(received), seconds=seconds, calls=dict(calls))


# --- geolocation ------------------------------------------------------------------------------------------
def _public_addresses(count: int, seed: int = 7) -> list[str]:
    """Addresses spread over public IPv4 blocks (and some IPv6), the same on every run."""
    import ipaddress

    rng = random.Random(seed)
    found: list[str] = []
    while len(found) < count:
        if rng.random() < 0.1:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(
                (0x2A00 << 112) | rng.getrandbits(100)
            )
        else:
            address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global:
            found.append(str(address))
    return found


# In a fresh interpreter that has imported the tracking function's handler (as a container has when its
# first request with an address arrives): what the first lookup adds.
FIRST_LOOKUP = """
import time, json
import handlers.tracking_api
from tracking import geo
t0 = time.perf_counter()
import maxminddb
t1 = time.perf_counter()
geo.locate("81.2.69.160")
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t0]))
"""


def measure_geo() -> GeoResult:
    from tracking import geo

    addresses = _public_addresses(LOOKUPS)
    located = sum(1 for address in addresses[:2000] if (geo.locate(address) or {}).get("country"))

    def timed() -> float:
        timings = []
        for start in range(0, LOOKUPS, 1000):
            chunk = addresses[start : start + 1000]
            began = time.perf_counter()
            for address in chunk:
                geo.locate(address)
            timings.append((time.perf_counter() - began) / len(chunk))
        return statistics.median(timings)

    first_pass = timed()  # the pages of the database these addresses need are read from disk
    second_pass = timed()  # and are in memory now (more addresses than the cache of recent answers holds)
    repeated = addresses[:1000]
    for address in repeated:
        geo.locate(address)
    began = time.perf_counter()
    for address in repeated:
        geo.locate(address)
    cached = (time.perf_counter() - began) / len(repeated)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(["functions", os.environ.get("PYTHONPATH", "")]),
        "EVENTS_TABLE": "bench-events",
        "MAIN_TABLE": "bench-main",
    }
    cold = json.loads(
        subprocess.run(
            [sys.executable, "-c", FIRST_LOOKUP], capture_output=True, text=True, check=True, env=env
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    with_geo = _ingest(locate=True)
    without_geo = _ingest(locate=False)
    return GeoResult(
        lookup_us=first_pass * 1e6,
        warm_lookup_us=second_pass * 1e6,
        cached_lookup_us=cached * 1e6,
        first_lookup_ms=cold[1] * 1000,
        import_ms=cold[0] * 1000,
        located_share=located / 2000,
        ratio_with=with_geo[1] / with_geo[0],
        ratio_without=without_geo[1] / without_geo[0],
        events_per_second_with=with_geo[0],
        events_per_second_without=without_geo[0],
    )


def _events_with_addresses(count: int) -> list[dict[str, Any]]:
    from bench.ingestion import make_events

    events = make_events(count)
    addresses = _public_addresses(count, seed=random.getrandbits(32))  # new visitors: none cached
    for event, address in zip(events, addresses, strict=True):
        event["context"] = {**event["context"], "ip": address}
    return events


def _post_from_child(*args: str) -> list[float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.integrations", *args], capture_output=True, text=True, check=True
    ).stdout
    timings: list[float] = json.loads(output.strip().splitlines()[-1])
    return timings


def _ingest(*, locate: bool) -> tuple[float, float]:
    """(our events/s, bare events/s) on events that carry a public address; `locate=False` switches the
    lookup off (the truncation stays), in this process where the stack runs."""
    from bench.ingestion import bare_write
    from leadstream.settings import get_settings
    from leadstream_local.stack import LocalStack
    from tracking import geo
    from tracking.store.sources import source_by_write_key

    real = geo.locate
    if not locate:
        geo.locate = lambda address: None  # type: ignore[assignment]
    try:
        with LocalStack(port=0, aws_port=0, triggers=False) as stack:
            source = source_by_write_key(stack.write_key)
            assert source is not None
            _post_from_child(stack.url, stack.write_key, "3")
            ours: list[float] = []
            bare: list[float] = []
            for _ in range(INGEST_ROUNDS):
                ours += _post_from_child(stack.url, stack.write_key, str(INGEST_BATCHES))
                bare += bare_write(
                    stack.aws_url, get_settings().events_table, source.source_id, INGEST_BATCHES
                )
    finally:
        geo.locate = real  # type: ignore[method-assign]
    return BATCH_SIZE / statistics.median(ours), BATCH_SIZE / statistics.median(bare)


# --- the report -------------------------------------------------------------------------------------------
def render(result: IntegrationsResult) -> list[str]:
    hooks, located = result.webhooks, result.geo
    per_event = {name: count / hooks.events for name, count in sorted(hooks.calls.items())}
    per_delivery = sum(hooks.calls.values()) / hooks.deliveries
    lines = [
        "## Integrations: webhook fan-out and geolocation at ingest",
        "",
        "Command: `make bench` (bench/integrations.py). Webhooks: moto in-process, "
        f"{SUBSCRIPTIONS} active subscriptions to one",
        "receiver on loopback (a threaded HTTP server answering 204), "
        f"{hooks.events} `deal.won` events put on the bus;",
        "the rule puts them on the webhook queue, which is",
        "pumped into `handlers.webhooks` in batches of 10 as Lambda would "
        "(fan-out, then signed attempts, 10 in",
        "parallel per batch). Timed from the first receive to the last delivery; moto, the receiver and the",
        "function share this process.",
        "",
        "| subscriptions | events | deliveries | seconds | deliveries per second | AWS calls per delivery |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {SUBSCRIPTIONS} | {hooks.events} | {hooks.deliveries} | {hooks.seconds:.2f} "
        f"| {hooks.per_second:.0f} | {per_delivery:.2f} |",
        "",
        "AWS calls per event on the bus (each fanned out to every subscription):",
        "",
        "| call | per event |",
        "| --- | --- |",
        *(f"| {name} | {count:.2f} |" for name, count in per_event.items()),
        "",
        "Per (event, subscription): the delivery PutItem and a tenth of a SendMessageBatch at fan-out (plus",
        "one subscriptions Query per fan-out batch of up to 10 events), then per attempt an UpdateItem claim",
        "(which returns the delivery), a GetItem of the subscription (its secret is never in a message) and",
        "an UpdateItem result. ReceiveMessage and DeleteMessage are Lambda's "
        "and not counted. The wall time is",
        "moto's: its in-process DynamoDB takes tens of milliseconds a call on this shared machine, and the",
        "attempts of a batch share one interpreter with it.",
        "",
        "Geolocation (`tracking.geo`, GeoLite2 City 2018 through the "
        "`maxminddb` C extension, memory-mapped):",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| lookup, first pass over {LOOKUPS:,} public addresses (median) | {located.lookup_us:.1f} µs |",
        f"| lookup, second pass (the file's pages in memory) | {located.warm_lookup_us:.1f} µs |",
        f"| lookup of an address seen recently (4,096 kept) | {located.cached_lookup_us:.1f} µs |",
        f"| sample addresses located to a country | {located.located_share:.0%} |",
        f"| first lookup in a container (import, open, lookup) | {located.first_lookup_ms:.1f} ms |",
        f"| of which importing `maxminddb` | {located.import_ms:.1f} ms |",
        f"| ingest ratio (bare / ours), every event located | {located.ratio_with:.2f}x "
        f"({located.events_per_second_with:,.0f} events/s) |",
        f"| ingest ratio (bare / ours), lookup switched off | {located.ratio_without:.2f}x "
        f"({located.events_per_second_without:,.0f} events/s) |",
        "",
        "The ingest rows use bench/ingestion.py's method (POST /v1/batch of 100 events on the local stack,",
        "an SDK stand-in in a child process, against bare batch_write_item of the same items to the same",
        f"moto, alternating, {INGEST_ROUNDS} rounds of {INGEST_BATCHES} batches), on events that each carry",
        "a public `context.ip`, a new one each (no answer comes from the cache); the difference between the",
        "rows is the lookup's share of ingest (noise on a shared machine is several percent). The",
        "first-lookup row is measured in a fresh interpreter that has imported the tracking handler already",
        "(boto3, pydantic, Powertools), as a container has when its first located request",
        "arrives; the reader is imported on the first lookup only.",
        "",
    ]
    return lines


if __name__ == "__main__":
    from bench.ingestion import post_batches

    url, write_key, batches = sys.argv[1:]
    print(json.dumps(post_batches(url, write_key, int(batches), make=_events_with_addresses)))

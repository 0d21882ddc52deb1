"""Website: `GET /p/{slug}` and the slot endpoint on the local stack (median and p95 latency, DynamoDB
calls per warm view), the snippet's gzipped size, and what a million page views cost.

The stack (API server, website handler, moto) runs in this process, and so does the HTTP client, over one
keep-alive connection (its share of the process is in the times). The page is a realistic landing page:
a personalised text block, a form with progressive profiling, an asset button and a dynamic slot whose
variants go by segment and tag. The visitor is a returning, known person (their profile is stored) or a
first-time one (no cookie). DynamoDB calls are counted on the function's own client while a route's
requests run, after warm-up views (a warm container holds the page, its form, asset and slot).
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

REQUESTS = 200
WARM_UP = 10
VISITOR = "bench-returning-visitor"
# us-east-1 list prices (on-demand DynamoDB, HTTP API, arm64 Lambda).
API_PER_MILLION = 1.00
LAMBDA_REQUEST_PER_MILLION = 0.20
LAMBDA_GB_SECOND = 0.0000133334
MEMORY_GB = 0.5
READ_UNIT_PER_MILLION = 0.125
WRITE_UNIT_PER_MILLION = 0.625


@dataclass(frozen=True)
class RouteResult:
    label: str
    median_ms: float
    p95_ms: float
    calls: dict[str, float]  # per request, by operation

    @property
    def reads(self) -> float:
        return sum(self.calls.get(name, 0.0) for name in ("GetItem", "BatchGetItem", "Query"))


@dataclass(frozen=True)
class WebsiteResult:
    routes: list[RouteResult]
    snippet_bytes: int
    snippet_gzipped: int


def measure() -> WebsiteResult:
    import boto3

    from leadstream.aws import dynamodb
    from leadstream_local.auth import issue_token
    from leadstream_local.stack import LocalStack
    from leadstream_local.template import REGION
    from website import snippet

    with LocalStack(port=0, aws_port=0, triggers=False) as stack:
        cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
        token = issue_token(stack.template, cognito, role="marketing", user="bench")
        _publish(stack.url, token)
        _returning_visitor()
        routes = [
            ("GET /p/{slug}, returning known visitor", "/p/bench", {"Cookie": f"ajs_anonymous_id={VISITOR}"}),
            ("GET /p/{slug}, first visit (no cookie)", "/p/bench", {}),
            ("GET /w/slots/{slotId}, returning known visitor", f"/w/slots/hero?anonymousId={VISITOR}", {}),
        ]
        results = []
        calls: Counter[str] = Counter()

        def before(event_name: str, **_: Any) -> None:
            calls[event_name.rsplit(".", 1)[-1]] += 1

        for label, path, headers in routes:
            _get(stack.url, path, headers, WARM_UP)
            calls.clear()
            events = dynamodb().meta.events
            events.register("before-call.dynamodb", before)
            timings = _get(stack.url, path, headers, REQUESTS)
            events.unregister("before-call.dynamodb", before)
            results.append(
                RouteResult(
                    label,
                    median_ms=statistics.median(timings) * 1000,
                    p95_ms=statistics.quantiles(timings, n=20)[-1] * 1000,
                    calls={name: count / REQUESTS for name, count in calls.items()},
                )
            )
    return WebsiteResult(results, len(snippet.source().encode()), snippet.gzipped_size())


def _get(url: str, path: str, headers: dict[str, str], count: int) -> list[float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", path, headers={"Accept": "text/html", **headers})
        response = connection.getresponse()
        body = response.read()
        timings.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
    connection.close()
    return timings


def _publish(url: str, token: str) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(path: str, body: dict[str, Any]) -> None:
        connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"{path}: {response.status} {answer[:300]!r}")

    source = "src-demo"
    post("/marketing/forms", {
        "formId": "bench-form", "name": "Bench", "sourceId": source,
        "fields": [{"name": "email", "label": "Email", "kind": "email", "required": True},
                   {"name": "firstName", "label": "First name", "progressive": True},
                   {"name": "company", "label": "Company", "progressive": True}],
    })  # fmt: skip
    post("/marketing/assets", {
        "assetId": "bench-ebook", "title": "E-book", "sourceId": source, "gatedBy": "bench",
        "file": {"fileName": "e.pdf", "contentType": "application/pdf", "size": 10},
    })  # fmt: skip
    post("/marketing/slots", {
        "slotId": "hero", "name": "Hero",
        "variants": [{"name": "readers", "audience": {"segmentId": "seg-bench"}, "html": "<p>Hi readers</p>"},
                     {"name": "pricing", "audience": {"tag": "interest:pricing"},
                      "html": "<p>Plans for {{ company | default('you') }}</p>"}],
        "defaultHtml": "<p>Welcome</p>",
    })  # fmt: skip
    post("/marketing/pages", {
        "slug": "bench", "title": "Bench page", "description": "A landing page", "sourceId": source,
        "blocks": [{"kind": "text", "html": "<h1>Hello {{ first_name | default('there') }}</h1>"},
                   {"kind": "slot", "slotId": "hero"}, {"kind": "form", "formId": "bench-form"},
                   {"kind": "asset", "assetId": "bench-ebook"}],
    })  # fmt: skip
    post("/marketing/pages/bench/publish", {})
    connection.close()


def _returning_visitor() -> None:
    from leadstream.profiles import IdentityRef, Profile
    from leadstream.store.profiles import put_profile
    from scoring.identity import new_profile_id

    anon = IdentityRef(kind="anon", value=VISITOR)
    profile = Profile(
        profile_id=new_profile_id(anon),
        identities=[anon, IdentityRef(kind="email", value="bench@example.com")],
        email="bench@example.com",
        traits={"firstName": "Ada", "company": "Analytical Engines"},
        tags=["interest:pricing"],
    )
    put_profile(profile, 0)


def cost_per_million_views(view: RouteResult) -> dict[str, float]:
    """A view: one request, one function call of the measured median, its reads (eventually consistent
    BatchGetItem of the profile, the identity and the slot's memberships: half a read unit per item of up
    to 4 KB, about 1.5 units) and its writes (the page event, about 1 KB: one write unit)."""
    reads = view.reads * 3 * 0.5
    writes = view.calls.get("BatchWriteItem", 0.0)
    return {
        "API Gateway": API_PER_MILLION,
        "Lambda": LAMBDA_REQUEST_PER_MILLION + view.median_ms / 1000 * MEMORY_GB * LAMBDA_GB_SECOND * 1e6,
        "DynamoDB reads": reads * READ_UNIT_PER_MILLION,
        "DynamoDB writes": writes * WRITE_UNIT_PER_MILLION,
    }


def render(result: WebsiteResult) -> list[str]:
    lines = [
        "## Website: landing pages and slots on the local stack",
        "",
        f"Command: `make bench` (bench/website.py). {REQUESTS} requests per route after {WARM_UP}",
        "warm-up ones, over one keep-alive connection, client and stack in one process. The page has a",
        "personalised text block, a dynamic slot (variants by segment and tag), a form with progressive",
        "profiling and an asset button; the returning visitor is a known person. Calls are DynamoDB calls",
        "per request, counted on the function's client.",
        "",
        "| route | median ms | p95 ms | DynamoDB reads per request | calls by operation |",
        "| --- | --- | --- | --- | --- |",
    ]
    for route in result.routes:
        calls = ", ".join(f"{name} {count:.1f}" for name, count in sorted(route.calls.items()))
        timing = f"{route.median_ms:.1f} | {route.p95_ms:.1f}"
        lines.append(f"| {route.label} | {timing} | {route.reads:.1f} | {calls} |")
    costs = cost_per_million_views(result.routes[0])
    lines += [
        "",
        "A warm view reads one BatchGetItem (the visitor's profile, their anonymous id's identity item and",
        "the slot's segment memberships, together); the page, its form, asset and slot come from the",
        "container's cache (CONFIG_CACHE_SECONDS). A first visit reads nothing. The one write is the page",
        "view event (BatchWriteItem to the events table).",
        "",
        f"The snippet (`GET /js/v1/leadstream.js`): {result.snippet_bytes:,} bytes, "
        f"**{result.snippet_gzipped:,} bytes gzipped**.",
        "",
        "Per million page views (us-east-1 list prices, the returning-visitor view above, 512 MB arm64): "
        + ", ".join(f"{name} ${value:.2f}" for name, value in costs.items())
        + f"; **${sum(costs.values()):.2f} in all** (a page with an A/B test adds one transaction of two",
        "items per first view of a visitor: about $2.50 per million such views).",
        "",
    ]
    return lines

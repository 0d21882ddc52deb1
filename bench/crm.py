"""CRM API: request latency of list, get and create (and a few more routes) on the local stack, and the
DynamoDB calls each route makes.

The stack (API server, CRM handler, moto) runs in this process; the HTTP client, standing in for a sales
app, runs in a child process per route (as in bench/ingestion.py), over one keep-alive connection with a
real sales token. Calls are counted on the handler's own DynamoDB client while that route's requests run.
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

REQUESTS = 60
WARM_UP = 5
SEEDED_ACCOUNTS = 50


@dataclass(frozen=True)
class Route:
    label: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    # PATCH: send the ETag of the previous answer as If-Match. Create: a fresh Idempotency-Key each time.
    chain_etag: bool = False
    etag: str = ""  # the version the first patch is based on (read before the calls are counted)
    idempotency_key: bool = False


@dataclass
class RouteResult:
    route: Route
    median_ms: float
    p95_ms: float
    calls: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    mean_ms: float = 0.0
    storage_ms: float = 0.0  # mean time per request inside DynamoDB (moto) calls

    @property
    def ours_ms(self) -> float:
        """The mean less the time in storage: HTTP, API Gateway event, JWT check, handler, validation."""
        return self.mean_ms - self.storage_ms

    @property
    def calls_per_request(self) -> str:
        parts = [f"{count / self.requests:g} {name}" for name, count in sorted(self.calls.items())]
        return ", ".join(parts) or "none"


# --- the sales app stand-in (`python -m bench.crm URL TOKEN ROUTE_JSON COUNT` in a child process) -------
def send(url: str, token: str, route: Route, count: int) -> list[float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    base = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps(route.body).encode() if route.body is not None else None
    etag = route.etag
    timings = []
    for _ in range(count):
        headers = dict(base)
        if route.chain_etag:  # each patch changes something, on top of the version the last one made
            headers["If-Match"] = etag
            body = json.dumps({**(route.body or {}), "description": str(uuid.uuid4())}).encode()
        if route.idempotency_key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        started = time.perf_counter()
        connection.request(route.method, route.path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        timings.append(time.perf_counter() - started)
        if response.status >= 300:
            raise RuntimeError(f"{route.label}: {response.status} {answer[:300]!r}")
        etag = response.getheader("ETag") or etag
    connection.close()
    return timings


def _from_child(url: str, token: str, route: Route, count: int) -> list[float]:
    spec = json.dumps(route.__dict__)
    output = subprocess.run(
        [sys.executable, "-m", "bench.crm", url, token, spec, str(count)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    timings: list[float] = json.loads(output.strip().splitlines()[-1])
    return timings


# --- the measurement --------------------------------------------------------------------------------------
def measure() -> list[RouteResult]:
    import boto3

    from leadstream.aws import dynamodb
    from leadstream_local.auth import issue_token
    from leadstream_local.stack import LocalStack
    from leadstream_local.template import REGION

    with LocalStack(port=0, aws_port=0, triggers=False) as stack:
        cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
        token = issue_token(stack.template, cognito, role="sales", user="bench")
        account_id, deal_id = _seed(stack.url, token)
        routes = _routes(account_id, deal_id)
        results = []
        calls: Counter[str] = Counter()
        in_storage = [0.0, 0.0]  # [started, total]

        def before(event_name: str, **_: Any) -> None:
            calls[event_name.rsplit(".", 1)[-1]] += 1
            in_storage[0] = time.perf_counter()

        def after(**_: Any) -> None:
            in_storage[1] += time.perf_counter() - in_storage[0]

        for planned in routes:
            _from_child(stack.url, token, _based_on_current(planned), WARM_UP)
            route = _based_on_current(planned)
            calls.clear()
            in_storage[1] = 0.0
            events = dynamodb().meta.events
            events.register("before-call.dynamodb", before)
            events.register("after-call.dynamodb", after)
            timings = _from_child(stack.url, token, route, REQUESTS)
            events.unregister("before-call.dynamodb", before)
            events.unregister("after-call.dynamodb", after)
            results.append(
                RouteResult(
                    route,
                    median_ms=statistics.median(timings) * 1000,
                    mean_ms=statistics.fmean(timings) * 1000,
                    p95_ms=statistics.quantiles(timings, n=20)[-1] * 1000,
                    calls=Counter(calls),
                    requests=len(timings),
                    storage_ms=in_storage[1] / len(timings) * 1000,
                )
            )
    return results


def _based_on_current(route: Route) -> Route:
    """A patch route with the ETag of the record as it is now (read here, not counted as the route's)."""
    if not route.chain_etag:
        return route
    from dataclasses import replace

    from crm.resources.accounts import ACCOUNT
    from crm.store.records import get_record

    current = get_record(ACCOUNT, route.path.rsplit("/", 1)[-1])
    return replace(route, etag=f'"{current.version}"' if current else "")


def _routes(account_id: str, deal_id: str) -> list[Route]:
    deal = {"name": "Bench deal", "accountId": account_id, "amount": "1000.00", "currency": "EUR"}
    return [
        Route("list accounts (50 per page)", "GET", "/crm/accounts?limit=50"),
        Route("get an account", "GET", f"/crm/accounts/{account_id}"),
        Route("create an account", "POST", "/crm/accounts", {"name": "Bench GmbH"}),
        Route(
            "create an account, Idempotency-Key",
            "POST",
            "/crm/accounts",
            {"name": "Bench"},
            idempotency_key=True,
        ),
        Route(
            "patch an account (If-Match)",
            "PATCH",
            f"/crm/accounts/{account_id}",
            {"industry": "x"},
            chain_etag=True,
        ),
        Route("list my deals (GSI2)", "GET", "/crm/deals?ownerId=me&limit=50"),
        Route("get a deal", "GET", f"/crm/deals/{deal_id}"),
        Route("create a deal (checks its account)", "POST", "/crm/deals", deal),
        Route("an account's timeline", "GET", f"/crm/accounts/{account_id}/timeline?limit=50"),
        Route("a record's history", "GET", f"/crm/accounts/{account_id}/history"),
    ]


def _seed(url: str, token: str) -> tuple[str, str]:
    """Accounts to list, one with contacts and deals (for its timeline)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read())
        if response.status != 201:
            raise RuntimeError(f"seeding {path}: {response.status} {answer}")
        return answer

    account_id = ""
    for number in range(SEEDED_ACCOUNTS):
        account_id = post("/crm/accounts", {"name": f"Account {number}", "industry": "Manufacturing"})[
            "accountId"
        ]
    for number in range(10):
        post("/crm/contacts", {"lastName": f"Contact {number}", "accountId": account_id})
    deal_id = ""
    for number in range(20):
        body = {"name": f"Deal {number}", "accountId": account_id, "amount": "5000.00", "currency": "EUR"}
        deal_id = post("/crm/deals", body)["dealId"]
    connection.close()
    return account_id, deal_id


def render(results: list[RouteResult]) -> list[str]:
    scans = sum(result.calls.get("Scan", 0) for result in results)
    lines = [
        "## CRM API: latency and DynamoDB calls per route, local stack",
        "",
        f"Command: `make bench` (bench/crm.py). {REQUESTS} sequential requests per route over one",
        "keep-alive connection with a real sales token, after a warm-up; the client runs in a process of its",
        f"own. Seeded: {SEEDED_ACCOUNTS} accounts, one of them with 10 contacts and 20 deals. Calls are",
        "counted and timed on the CRM handler's DynamoDB client. The mean splits into the time inside those",
        "calls (`in moto`: moto's in-memory DynamoDB is slow at queries and transactions, far slower than",
        "DynamoDB) and the rest (`ours`: HTTP, the API Gateway event, the JWT check, validation, the",
        "handler). Targets: a list and a get are one call each (a Query, a GetItem); no Scan anywhere.",
        "",
        "| route | median ms | p95 ms | mean ms = in moto + ours | DynamoDB calls per request |",
        "| --- | --- | --- | --- | --- |",
    ]
    for result in results:
        route = f"{result.route.label}: `{result.route.method} {_template(result.route.path)}`"
        split = f"{result.mean_ms:.1f} = {result.storage_ms:.1f} + {result.ours_ms:.1f}"
        timing = f"{result.median_ms:.1f} | {result.p95_ms:.1f} | {split}"
        lines.append(f"| {route} | {timing} | {result.calls_per_request} |")
    lines += [
        "",
        f"Scans in the whole run: **{scans}**. A create is one TransactWriteItems (the record, its history",
        "entry, and a timeline entry for a record of an account); an Idempotency-Key adds the Powertools",
        "idempotency record's PutItem and UpdateItem; a deal's create also reads its account (BatchGetItem)",
        "and its pipeline (GetItem); a PATCH reads the record it changes. A timeline's first page also reads",
        "the account, its contacts (Query) and their marketing profiles (BatchGetItem, when any is linked).",
        "",
    ]
    return lines


def _template(path: str) -> str:
    """/crm/accounts/8c4c.../history?limit=5 -> /crm/accounts/{id}/history"""
    return re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27}", "/{id}", path.split("?", maxsplit=1)[0])


if __name__ == "__main__":
    url, token, spec, count = sys.argv[1:5]
    print(json.dumps(send(url, token, Route(**json.loads(spec)), int(count))))

"""The closed loop on the local stack, over HTTP: tracked visits with UTM tags, a form, MQL, a lead sales
accepts and converts, its deal won; then the funnel, attribution and acquisition reports (DuckDB over the
Parquet files the local Firehose delivered) show that person's path and revenue, and the reports page
in a real headless Chromium shows the same numbers as the API."""

from __future__ import annotations

import http.client
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import sync_playwright
from stack_client import StackClient

from crm.leads import handoff_lead_id
from leadstream.profiles import IdentityRef
from leadstream.store.profiles import profile_of
from leadstream_local.seed import DEMO_REQUEST_FORM
from leadstream_local.stack import LocalStack

pytestmark = pytest.mark.e2e
SITE = "https://www.example.com"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _won_customer(stack: LocalStack, source: str, amount: str, medium: str = "cpc") -> str:
    """A visitor from `source` (cpc) who asks for a demo and whose deal is won; their profile id."""
    visitor, email = f"visitor-{uuid.uuid4().hex[:8]}", f"lake-{uuid.uuid4().hex[:6]}@contoso.io"
    start = stack.now() - timedelta(minutes=2)  # the stack's clock: other tests may have moved it
    tracker = StackClient(stack)
    for second, path in enumerate(("/", "/pricing")):
        query = f"?utm_source={source}&utm_medium={medium}&utm_campaign=launch" if second == 0 else ""
        tracker.send("page", {
            "anonymousId": visitor, "name": path,
            "context": {"page": {"url": f"{SITE}{path}{query}", "path": path,
                                 "referrer": "https://www.google.com/" if second == 0 else f"{SITE}/"}},
            "timestamp": (start + timedelta(seconds=second)).isoformat(),
        })  # fmt: skip
    form = {"email": email, "name": "Ada Lake", "company": "Contoso", "title": "CTO", "anonymousId": visitor}
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Referer": f"{SITE}/demo"}
    connection.request("POST", f"/forms/{DEMO_REQUEST_FORM}", body=urlencode(form).encode(), headers=headers)
    assert connection.getresponse().status == 200
    connection.close()
    assert stack.wait_idle()
    profile = profile_of(IdentityRef(kind="email", value=email))
    assert profile is not None
    assert profile.stage == "marketing-qualified"
    sales = StackClient(stack, role="sales", user="sam")
    lead_id = handoff_lead_id(profile.profile_id, 1)
    lead = sales.ok("GET", f"/crm/leads/{lead_id}")
    accepted = sales.ok("POST", f"/crm/leads/{lead_id}/accept", None, **{"If-Match": f'"{lead["version"]}"'})
    converted = sales.ok(
        "POST", f"/crm/leads/{lead_id}/convert", {"deal": {"amount": amount, "currency": "USD"}},
        **{"If-Match": f'"{accepted["version"]}"'},
    )  # fmt: skip
    deal = converted["deal"]
    sales.ok(
        "PATCH", f"/crm/deals/{deal['dealId']}", {"stageId": "won"}, **{"If-Match": f'"{deal["version"]}"'}
    )
    assert stack.wait_idle()
    return profile.profile_id


def _period(stack: LocalStack) -> dict[str, str]:
    today = stack.now().date()
    return {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


def _report(marketer: StackClient, name: str, **params: str) -> Any:
    return marketer.ok("GET", f"/marketing/reports/{name}?{urlencode({**_period(marketer.stack), **params})}")


def test_a_paid_visitor_who_buys_shows_in_funnel_attribution_and_acquisition(local_stack: LocalStack) -> None:
    source = f"ads-{uuid.uuid4().hex[:6]}"
    _won_customer(local_stack, source, "4200.00")
    marketer = StackClient(local_stack, role="marketing", user="mia")
    month = local_stack.now().strftime("%Y-%m")
    marketer.ok("PUT", f"/marketing/spend/{month}/paid", {"amount": "2100.00"})

    funnel = _report(marketer, "funnel", by="source")
    mine = {row["stage"]: row["people"] for row in funnel["rows"] if row["group"] == source}
    assert mine == {"marketing-qualified": 1, "sales-qualified": 1, "opportunity": 1, "customer": 1} | {
        stage: 1 for stage in ("lead", "subscriber") if stage in mine
    }

    first = _report(marketer, "attribution", model="first", outcome="revenue")
    credit = {row["value"]: row["credit"] for row in first["rows"] if row["dimension"] == "utm_source"}
    assert credit[source] == 4200.0
    campaigns = {row["value"]: row["credit"] for row in first["rows"] if row["dimension"] == "utm_campaign"}
    assert campaigns["launch"] >= 4200.0

    acquisition = _report(marketer, "acquisition")
    (paid,) = [row for row in acquisition["rows"] if row["channel"] == "paid" and row["month"] == month]
    assert (paid["customers"], paid["revenue"], paid["spend"], paid["cost_per_customer"]) == (
        1,
        4200.0,
        2100.0,
        2100.0,
    )

    csv = marketer.request(
        "GET", f"/marketing/reports/acquisition?{urlencode({**_period(marketer.stack), 'format': 'csv'})}"
    )
    assert csv.status == 200
    assert f"{month},paid,1,4200.0,2100.0,2100.0".encode() in csv.body


def _cells(page: Any, table: str) -> list[dict[str, str]]:
    rows = page.locator(f"#{table}-table tbody tr")
    found = []
    for index in range(rows.count()):
        cells = rows.nth(index).locator("td")
        found.append(
            {
                cells.nth(i).get_attribute("data-column"): cells.nth(i).inner_text()
                for i in range(cells.count())
            }
        )
    return found


def _number(text: str) -> float | None:
    return float(text) if text else None


def test_the_reports_page_in_chromium_shows_the_apis_numbers(local_stack: LocalStack) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (`make test` installs it)")
    _won_customer(local_stack, f"social-{uuid.uuid4().hex[:6]}", "1000.00", medium="social")
    marketer = StackClient(local_stack, role="marketing", user="mia")
    funnel = _report(marketer, "funnel", by="all")
    attribution = _report(marketer, "attribution", model="first", outcome="revenue")
    acquisition = _report(marketer, "acquisition")
    token = marketer._token
    query = urlencode({**_period(marketer.stack), "model": "first", "outcome": "revenue"})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
            page = context.new_page()
            response = page.goto(f"{local_stack.url}/marketing/reports?{query}")
            assert response is not None
            assert response.status == 200
            assert page.locator("#funnel svg g.bar").count() == len({r["stage"] for r in funnel["rows"]})
            shown_funnel = {(r["stage"], int(r["people"])) for r in _cells(page, "funnel")}
            assert shown_funnel == {(r["stage"], r["people"]) for r in funnel["rows"]}
            shown_credit = {r["value"]: float(r["credit"]) for r in _cells(page, "attribution")}
            api_credit = {r["value"]: r["credit"] for r in attribution["rows"] if r["dimension"] == "channel"}
            assert api_credit
            assert shown_credit == api_credit
            bars = page.locator("#attribution svg g.bar")
            assert {
                bars.nth(i).get_attribute("data-label"): float(bars.nth(i).get_attribute("data-value") or 0)
                for i in range(bars.count())
            } == api_credit
            shown = [
                (
                    r["month"],
                    r["channel"],
                    int(r["customers"]),
                    float(r["revenue"]),
                    float(r["spend"]),
                    _number(r["lifetime_value"]),
                )
                for r in _cells(page, "acquisition")
            ]
            assert shown == [
                (r["month"], r["channel"], r["customers"], r["revenue"], r["spend"], r["lifetime_value"])
                for r in acquisition["rows"]
            ]
        finally:
            browser.close()

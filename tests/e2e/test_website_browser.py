"""The website tour in headless Chromium on the local stack: a marketer publishes a landing page (an A/B
test) with a form and a gated e-book, a dynamic slot, a segment and a pop-up through the marketing API;
a visitor lands from a UTM link, sees a variant, submits the form with an error and then correctly,
downloads the e-book, sees the pop-up on a second page (a customer's site running analytics-next and our
snippet) and not again after its cap, and sees the slot change once they are in the segment. They end
as one person, merged and scored.

Set-up (`make test` does it): Debian's Chromium at /usr/bin/chromium and `npm ci` in tests/e2e/browser.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from stack_client import StackClient
from test_browser_sdk import BROWSER_DIR, CHROMIUM, CHROMIUM_FLAGS, SDK_BUNDLE, _QuietFiles

from leadstream_local.stack import LocalStack
from website import experiments
from website.models import PageTest

pytestmark = pytest.mark.e2e
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}: `apt-get install -y chromium`")
    if not SDK_BUNDLE.exists():
        pytest.skip("browser tests need analytics-next: run `npm ci` in tests/e2e/browser (`make test` does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site_origin() -> Iterator[str]:
    """A customer's site (another origin than the API's): analytics-next and our snippet side by side."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=BROWSER_DIR))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(accept_downloads=True)
    yield context
    context.close()


def _publish(stack: LocalStack, run: str) -> dict[str, Any]:
    """The marketer's side, through the marketing API only."""
    marketing = StackClient(stack, role="marketing")
    source = "src-demo"
    form_id, asset_id, slug = f"ebook-form-{run}", f"ebook-{run}", f"ebook-{run}"
    marketing.ok("POST", "/marketing/forms", {
        "formId": form_id, "name": "E-book", "sourceId": source,
        "fields": [
            {"name": "email", "label": "Work email", "kind": "email", "required": True},
            {"name": "firstName", "label": "First name", "required": True},
            {"name": "company", "label": "Company", "progressive": True},
        ],
        "thankYouMessage": "Thanks! Your e-book is on its way.",
    })  # fmt: skip
    created = marketing.ok("POST", "/marketing/assets", {
        "assetId": asset_id, "title": "The serverless CRM e-book", "sourceId": source, "gatedBy": slug,
        "file": {"fileName": "serverless-crm.pdf", "contentType": "application/pdf", "size": 17},
    })  # fmt: skip
    upload = created["upload"]
    stored = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("e.pdf", b"%PDF-1.7 e-book!\n")}, timeout=30
    )
    assert stored.status_code in (200, 204), stored.text
    marketing.ok("POST", f"/marketing/assets/{asset_id}/publish")
    segment = marketing.ok("POST", "/marketing/segments", {
        "name": f"Content readers {run}", "condition": {"type": "tag", "op": "has", "tag": "engaged:content"},
    })  # fmt: skip
    marketing.ok("POST", "/marketing/slots", {
        "slotId": f"hero-{run}", "name": "Pricing hero",
        "variants": [{"name": "readers", "audience": {"segmentId": segment["segmentId"]},
                      "html": "<p>Enjoying the e-book, {{ first_name }}? Book a demo.</p>"}],
        "defaultHtml": "<p>Welcome to Leadstream</p>",
    })  # fmt: skip
    marketing.ok("POST", "/marketing/popups", {
        "popupId": f"demo-{run}", "name": "Book a demo", "kind": "notice",
        "html": "<h2>Book a demo</h2><p>Twenty minutes, no slides.</p>",
        "trigger": {"kind": "time", "seconds": 1}, "urlPattern": "*/site.html*",
        "audience": {"knownOnly": True}, "cap": {"times": 1, "perDays": 30},
    })  # fmt: skip
    blocks = [
        {"kind": "text", "html": "<h1>The serverless CRM, explained</h1>"},
        {"kind": "asset", "assetId": asset_id, "label": "Download the e-book"},
        {"kind": "form", "formId": form_id},
    ]
    test = {"variants": [
        {"name": "A", "title": "Free e-book: the serverless CRM", "blocks": blocks},
        {"name": "B", "title": "Get the guide everyone reads", "blocks": blocks},
    ], "conversion": "asset"}  # fmt: skip
    marketing.ok("POST", "/marketing/pages", {
        "slug": slug, "title": "E-book", "description": "A free guide", "sourceId": source, "test": test,
    })  # fmt: skip
    marketing.ok("POST", f"/marketing/pages/{slug}/publish")
    gate = {"slug": slug, "test": test, "asset": asset_id, "popup": f"demo-{run}", "slot": f"hero-{run}"}
    return gate


def detail_identities(marketing: StackClient, profile_id: str) -> set[tuple[str, str]]:
    detail = marketing.ok("GET", f"/marketing/profiles/{profile_id}")
    return {(identity["kind"], identity["value"]) for identity in detail["identities"]}


def _open_site(page: Page, site_origin: str, stack: LocalStack, slot: str) -> None:
    page.goto(f"{site_origin}/site.html")
    page.evaluate("([key, api, slot]) => loadSite(key, api, slot)", [stack.write_key, stack.url, slot])


def test_a_visitor_goes_from_a_utm_link_to_a_known_scored_person(
    context: BrowserContext, site_origin: str, local_stack: LocalStack
) -> None:
    run = uuid.uuid4().hex[:8]
    gate = _publish(local_stack, run)
    slug, asset_id = gate["slug"], gate["asset"]
    email = f"lin-{run}@example.com"
    page = context.new_page()

    # A first look at the customer's site: the snippet and analytics-next share one anonymous id; the
    # slot shows its default; the pop-up is for known people only.
    _open_site(page, site_origin, local_stack, gate["slot"])
    page.wait_for_function("document.getElementById('hero').dataset.variant === 'default'", timeout=WAIT_MS)
    anonymous_id = page.evaluate("leadstream.anonymousId()")
    assert anonymous_id == page.evaluate("analytics.user().anonymousId()")
    page.wait_for_timeout(1500)
    assert page.locator(".ls-popup").count() == 0

    # The landing page, from a UTM link: the variant the test assigns to this visitor.
    page.goto(f"{local_stack.url}/p/{slug}?utm_source=newsletter&utm_medium=email&utm_campaign=fall")
    variant = experiments.assign(slug, PageTest.model_validate(gate["test"]), anonymous_id)
    assert page.title() == variant.title
    # The gated e-book sends an unknown visitor to the form.
    page.click("text=Download the e-book")
    page.wait_for_url(f"**/p/{slug}?asset={asset_id}")
    page.fill("input[name=email]", "lin-at-example")
    page.fill("input[name=firstName]", "Lin")
    page.click("button[type=submit]")
    assert "enter an email address like name@example.com" in page.inner_text(".ls-field-error")
    assert page.input_value("input[name=firstName]") == "Lin"  # what they typed is kept
    page.fill("input[name=email]", email)
    with page.expect_download(timeout=WAIT_MS) as downloading:
        page.click("button[type=submit]")
    download = downloading.value
    assert download.suggested_filename == "serverless-crm.pdf"
    assert download.path().read_bytes() == b"%PDF-1.7 e-book!\n"
    assert local_stack.wait_idle()

    # The second page: the pop-up (now known) after a second, and the slot of their new segment.
    _open_site(page, site_origin, local_stack, gate["slot"])
    page.wait_for_selector(".ls-popup", timeout=WAIT_MS)
    assert "Book a demo" in page.inner_text(".ls-popup")
    page.wait_for_function("document.getElementById('hero').dataset.variant === 'readers'", timeout=WAIT_MS)
    assert page.inner_text("#hero") == "Enjoying the e-book, Lin? Book a demo."
    page.click(".ls-popup-close")
    assert local_stack.wait_idle()
    _open_site(page, site_origin, local_stack, gate["slot"])
    page.wait_for_function("document.getElementById('hero').dataset.variant === 'readers'", timeout=WAIT_MS)
    page.wait_for_timeout(2000)
    assert page.locator(".ls-popup").count() == 0  # its cap is one impression

    _one_scored_person(local_stack, gate, email, anonymous_id, variant.name)


def _one_scored_person(
    stack: LocalStack, gate: dict[str, Any], email: str, anonymous_id: str, variant: str
) -> None:
    slug = gate["slug"]
    marketing = StackClient(stack, role="marketing")
    (profile,) = marketing.ok("GET", f"/marketing/profiles?email={quote(email)}")["items"]
    events = marketing.ok("GET", f"/marketing/profiles/{profile['profileId']}/events?limit=100")["items"]
    names = [event.get("event") or event["type"] for event in events]
    assert {"Form Submitted", "Asset Downloaded", "page"} <= set(names)
    assert any("utm_source=newsletter" in (event["url"] or "") for event in events)
    assert detail_identities(marketing, profile["profileId"]) >= {("anon", anonymous_id), ("email", email)}
    detail = marketing.ok("GET", f"/marketing/profiles/{profile['profileId']}")
    assert "engaged:content" in detail["tags"]
    assert detail["engagement"] >= 70  # the form (+30) and the e-book (+40), page views on top
    report = marketing.ok("GET", f"/marketing/pages/{slug}/test")
    by_variant = {row["variant"]: row for row in report["variants"]}
    assert (by_variant[variant]["views"], by_variant[variant]["conversions"]) == (1, 1)
    popup = marketing.ok("GET", f"/marketing/popups/{gate['popup']}/report")
    assert popup["impressions"] == 1


def test_the_snippet_sends_nothing_when_the_page_says_tracking_was_declined(
    context: BrowserContext, site_origin: str, local_stack: LocalStack
) -> None:
    page = context.new_page()
    sent: list[str] = []
    page.on(
        "request",
        lambda request: sent.append(request.url) if request.url.startswith(local_stack.url) else None,
    )
    page.goto(f"{site_origin}/site.html")
    page.evaluate("window.leadstreamConsent = 'declined'")
    page.evaluate(
        """(api) => new Promise((resolve) => { const s = document.createElement('script');
        s.src = api + '/js/v1/leadstream.js'; s.setAttribute('data-write-key', 'k'); s.onload = resolve;
        document.body.appendChild(s); })""",
        local_stack.url,
    )
    page.evaluate("leadstream.track('Clicked Pricing', {plan: 'pro'})")
    page.wait_for_timeout(1000)
    assert sent == [f"{local_stack.url}/js/v1/leadstream.js"]  # the script itself, nothing else
    assert "ajs_anonymous_id" not in {cookie["name"] for cookie in context.cookies()}


def test_the_snippet_renders_a_form_on_another_site_and_shows_its_errors(
    context: BrowserContext, site_origin: str, local_stack: LocalStack
) -> None:
    run = uuid.uuid4().hex[:8]
    marketing = StackClient(local_stack, role="marketing")
    marketing.ok("POST", "/marketing/forms", {
        "formId": f"news-{run}", "name": "Newsletter", "sourceId": "src-demo",
        "fields": [{"name": "email", "label": "Email", "kind": "email", "required": True},
                   {"name": "consent", "label": "Yes, send it", "kind": "consent", "required": True}],
        "thankYouMessage": "Welcome aboard",
    })  # fmt: skip
    page = context.new_page()
    page.goto(f"{site_origin}/site.html")
    page.evaluate(
        "([key, api, form]) => loadSite(key, api, 'none', form)",
        [local_stack.write_key, local_stack.url, f"news-{run}"],
    )
    page.wait_for_selector("#embed form", timeout=WAIT_MS)
    page.fill("#embed input[name=email]", "not an email")
    page.click("#embed button[type=submit]")
    page.wait_for_selector("#embed .ls-field-error", timeout=WAIT_MS)
    errors = page.locator("#embed .ls-field-error").all_inner_texts()
    assert errors == ["enter an email address like name@example.com", "your consent is needed"]
    page.fill("#embed input[name=email]", f"reader-{run}@example.com")
    page.check("#embed input[name=consent]")
    page.click("#embed button[type=submit]")
    page.wait_for_selector("#embed .ls-thanks", timeout=WAIT_MS)
    assert page.inner_text("#embed .ls-thanks") == "Welcome aboard"
    assert local_stack.wait_idle()
    (profile,) = marketing.ok("GET", f"/marketing/profiles?email=reader-{run}%40example.com")["items"]
    identities = detail_identities(marketing, profile["profileId"])
    assert ("anon", page.evaluate("leadstream.anonymousId()")) in identities


@pytest.mark.parametrize("trigger", ["url", "scroll", "exit"])
def test_popup_triggers_url_scroll_and_exit_intent(
    context: BrowserContext, site_origin: str, local_stack: LocalStack, trigger: str
) -> None:
    run = uuid.uuid4().hex[:8]
    marketing = StackClient(local_stack, role="marketing")
    extra = {"scroll": {"percent": 60}}.get(trigger, {})
    marketing.ok("POST", "/marketing/popups", {
        "popupId": f"{trigger}-{run}", "name": trigger, "kind": "link", "html": f"<p>{trigger} pop-up</p>",
        "linkUrl": "/p/pricing", "linkLabel": "See pricing", "trigger": {"kind": trigger, **extra},
        "urlPattern": f"*site.html?{run}*",
    })  # fmt: skip
    page = context.new_page()
    page.goto(f"{site_origin}/site.html?{run}")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<div style=\"height:4000px\"></div>')")
    page.evaluate("([key, api]) => loadSite(key, api, 'none')", [local_stack.write_key, local_stack.url])
    if trigger != "url":
        page.wait_for_timeout(1500)
        assert page.locator(".ls-popup").count() == 0  # not before its trigger
        if trigger == "scroll":
            page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        else:
            page.evaluate("document.dispatchEvent(new MouseEvent('mouseout', {clientY: -1, bubbles: true}))")
    page.wait_for_selector(".ls-popup", timeout=WAIT_MS)
    assert f"{trigger} pop-up" in page.inner_text(".ls-popup")
    page.click(".ls-popup a")  # a click is reported
    assert local_stack.wait_idle()
    report = marketing.ok("GET", f"/marketing/popups/{trigger}-{run}/report")
    assert (report["impressions"], report["clicks"]) == (1, 1)


def test_a_form_popup_shows_its_errors_and_converts(
    context: BrowserContext, site_origin: str, local_stack: LocalStack
) -> None:
    run = uuid.uuid4().hex[:8]
    marketing = StackClient(local_stack, role="marketing")
    marketing.ok("POST", "/marketing/forms", {
        "formId": f"popup-form-{run}", "name": "Pop-up", "sourceId": "src-demo",
        "fields": [{"name": "email", "label": "Email", "kind": "email", "required": True}],
        "thankYouMessage": "You are in",
    })  # fmt: skip
    marketing.ok("POST", "/marketing/popups", {
        "popupId": f"form-{run}", "name": "Join", "kind": "form", "formId": f"popup-form-{run}",
        "html": "<h2>Join us</h2>", "trigger": {"kind": "url"}, "urlPattern": f"*site.html?{run}*",
        "audience": {"anonymousOnly": True},
    })  # fmt: skip
    page = context.new_page()
    page.goto(f"{site_origin}/site.html?{run}")
    page.evaluate("([key, api]) => loadSite(key, api, 'none')", [local_stack.write_key, local_stack.url])
    page.wait_for_selector(".ls-popup form", timeout=WAIT_MS)
    page.fill(".ls-popup input[name=email]", "nope")
    page.click(".ls-popup button[type=submit]")
    page.wait_for_selector(".ls-popup .ls-field-error", timeout=WAIT_MS)
    assert page.inner_text(".ls-popup .ls-field-error") == "enter an email address like name@example.com"
    page.fill(".ls-popup input[name=email]", f"joiner-{run}@example.com")
    page.click(".ls-popup button[type=submit]")
    page.wait_for_selector(".ls-popup .ls-thanks", timeout=WAIT_MS)
    assert local_stack.wait_idle()
    report = marketing.ok("GET", f"/marketing/popups/form-{run}/report")
    assert (report["impressions"], report["conversions"]) == (1, 1)
    (profile,) = marketing.ok("GET", f"/marketing/profiles?email=joiner-{run}%40example.com")["items"]
    assert profile["email"] == f"joiner-{run}@example.com"

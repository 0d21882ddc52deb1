"""Segment's analytics-next, the real browser SDK, in headless Chromium: a test page served from another
origin than the API loads it and sends events to the local stack, so the browser applies CORS exactly as
on a customer's site.

Set-up (`make test` does it): Debian's Chromium at /usr/bin/chromium and `npm ci` in tests/e2e/browser.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, sync_playwright
from stack_client import StackClient

from leadstream_local.stack import LocalStack

pytestmark = pytest.mark.e2e

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
SDK_BUNDLE = BROWSER_DIR / "node_modules/@segment/analytics-next/dist/umd/index.js"
CHROMIUM = Path("/usr/bin/chromium")
# The machine's closed network refuses Chromium's own background connections: turn them all off.
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
# analytics-next resends a failed event after a backoff of one to two seconds.
RETRY_WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module. Playwright gives it a fresh temporary user-data dir, and every test
    a context of its own (no cookies, no storage: analytics-next keeps its ids and retry queue there)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM}: run `apt-get install -y chromium` "
            "as root (`make test` does when it runs as root or with passwordless sudo)"
        )
    if not SDK_BUNDLE.exists():
        pytest.skip("browser tests need analytics-next: run `npm ci` in tests/e2e/browser (`make test` does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class _QuietFiles(SimpleHTTPRequestHandler):
    """Serves files without logging each request (the test output would drown in them)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The test page and the SDK's bundle, served on a port of their own: another origin than the API's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=BROWSER_DIR))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def page(browser: Browser, page_origin: str, local_stack: LocalStack) -> Iterator[Page]:
    """The test page with analytics-next loaded, sending to the local stack's tracking API."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{page_origin}/sdk.html")
    api_host = f"{urlsplit(local_stack.url).netloc}/v1"
    page.evaluate(
        "([writeKey, apiHost]) => loadAnalytics(writeKey, apiHost)", [local_stack.write_key, api_host]
    )
    yield page
    context.close()


def _send(page: Page, call: str, *args: Any) -> str:
    """One analytics-next call (`page`, `track`, `identify`); its message id once the SDK is done with it
    (delivered, or queued for a retry after a failed send)."""
    message_id: str = page.evaluate(
        "([call, args]) => analytics[call](...args).then((ctx) => ctx.event.messageId)", [call, list(args)]
    )
    return message_id


def _events_of(stack: LocalStack, email: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Through the marketing API: the profile of `email` and its events, as marketing sees them."""
    marketing = StackClient(stack, role="marketing")
    (profile,) = marketing.ok("GET", f"/marketing/profiles?email={quote(email)}")["items"]
    events = marketing.ok("GET", f"/marketing/profiles/{profile['profileId']}/events")["items"]
    return profile, events


def test_page_track_and_identify_from_the_browser_land_on_one_profile(
    page: Page, page_origin: str, local_stack: LocalStack
) -> None:
    run = uuid.uuid4().hex[:8]
    email = f"ada-{run}@example.com"
    # Anonymous first, then identified: the page and track events join the person when they say who they are.
    viewed = _send(page, "page", "Pricing", {"plan": "pro"})
    watched = _send(page, "track", "Viewed Demo Video", {"seconds": 42})
    identified = _send(page, "identify", f"user-{run}", {"email": email, "firstName": "Ada"})
    assert local_stack.wait_idle()

    profile, events = _events_of(local_stack, email)
    assert (profile["userId"], profile["name"]) == (f"user-{run}", "Ada")
    by_id = {event["messageId"]: event for event in events}
    assert set(by_id) == {viewed, watched, identified}
    assert (by_id[viewed]["type"], by_id[viewed]["name"]) == ("page", "Pricing")
    assert by_id[viewed]["url"] == f"{page_origin}/sdk.html"
    assert (by_id[watched]["type"], by_id[watched]["event"]) == ("track", "Viewed Demo Video")
    assert by_id[watched]["properties"] == {"seconds": 42}
    assert by_id[identified]["type"] == "identify"


@pytest.mark.parametrize("first_send", ["never_arrives", "arrives_but_its_answer_is_lost"])
def test_an_event_whose_first_send_fails_is_retried_and_stored_once(
    page: Page, local_stack: LocalStack, first_send: str
) -> None:
    run = uuid.uuid4().hex[:8]
    email = f"grace-{run}@example.com"
    _send(page, "identify", f"user-{run}", {"email": email})

    stack_answers: list[int] = []

    def fail_once(route: Route) -> None:
        if first_send == "arrives_but_its_answer_is_lost":
            # The stack receives and stores the event; the browser never sees the answer.
            stack_answers.append(route.fetch().status)
        route.abort("connectionreset")

    # times=1: the route is gone before the resend, so its preflight reaches the stack. (While a route is
    # active, Playwright answers preflights itself, allowing anything, and would hide a CORS refusal.)
    page.route("**/v1/*", fail_once, times=1)
    with page.expect_request(
        lambda request: "x-retry-count" in request.headers, timeout=RETRY_WAIT_MS
    ) as resend:
        message_id = _send(page, "track", "Requested Demo", {"plan": "pro"})
    retry: Request = resend.value
    response = retry.response()
    assert response is not None, f"the browser did not send the retry ({retry.failure}): CORS refused it?"
    assert (retry.headers["x-retry-count"], response.status) == ("1", 200)
    assert stack_answers == ([200] if first_send == "arrives_but_its_answer_is_lost" else [])
    assert local_stack.wait_idle()

    _, events = _events_of(local_stack, email)
    requested = [event for event in events if event["event"] == "Requested Demo"]
    assert [event["messageId"] for event in requested] == [message_id]
    assert requested[0]["properties"] == {"plan": "pro"}

"""The preference center end to end on the local stack, in headless Chromium: a person who hears about two
topics gets a real campaign email, follows the link in it to the preference center, opts out of topic A
and saves; the next campaign on topic A skips them (recorded and counted as skipped) while one on topic B
reaches them. Another person, who changed nothing, gets both.

Set-up (`make test` does it): Debian's Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright
from stack_client import StackClient, outboxes
from test_browser_sdk import CHROMIUM, CHROMIUM_FLAGS
from test_website_browser import site_origin

from leadstream.store.profiles import get_profile
from leadstream_local.stack import LocalStack
from mail.sends import SendStatus, message_id_for
from mail.store.sends import get_send

pytestmark = pytest.mark.e2e
__all__ = ["site_origin"]  # the fixture: a customer's site on another origin
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}: `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _campaign(api: StackClient, stack: LocalStack, segment_id: str, template_id: str, topic_id: str) -> str:
    body = {
        "name": f"About {topic_id}",
        "segmentId": segment_id,
        "templateId": template_id,
        "topicId": topic_id,
    }
    campaign_id: str = api.ok("POST", "/marketing/campaigns", body)["campaignId"]
    api.ok("POST", f"/marketing/campaigns/{campaign_id}/send", {})
    assert stack.wait_idle()
    return campaign_id


def test_a_person_opts_out_of_a_topic_from_the_email_and_the_next_campaign_honours_it(
    local_stack: LocalStack, browser: Browser
) -> None:
    run = uuid.uuid4().hex[:6]
    api = StackClient(local_stack, role="marketing")
    topic_a, topic_b = f"news-{run}", f"events-{run}"
    api.ok("POST", "/marketing/topics", {"topicId": topic_a, "name": "Product news"})
    api.ok("POST", "/marketing/topics", {"topicId": topic_b, "name": "Events", "description": "Meetups"})
    ada, bo = f"ada-{run}@example.org", f"bo-{run}@example.org"
    condition = {"type": "trait", "path": "list", "op": "eq", "value": run}
    segment_id = api.ok("POST", "/marketing/segments", {"name": f"List {run}", "condition": condition})[
        "segmentId"
    ]
    known = StackClient(local_stack).known_people({"email": ada, "list": run}, {"email": bo, "list": run})
    people = dict(zip((ada, bo), (pid for _, pid in known), strict=True))
    template = {"name": "News", "subject": "What is new", "html": "<p>Hello!</p>"}
    template_id = api.ok("POST", "/marketing/templates", template)["templateId"]

    first = _campaign(api, local_stack, segment_id, template_id, topic_a)
    (email,) = outboxes(local_stack, [ada])[ada]
    # The link a person clicks in the email's footer (the List-Unsubscribe header names the same URL).
    footer = email.html.split(">Email preferences and unsubscribe</a>", 1)[0]
    link = html.unescape(footer.rsplit('href="', 1)[1].split('"', 1)[0])
    assert "/email/unsubscribe/" in link, email.html[-600:]
    assert email.unsubscribe.strip("<>") == link

    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    page.get_by_role("heading", name="Your email preferences").wait_for(timeout=WAIT_MS)
    box_a = page.get_by_role("checkbox", name="Product news")
    box_b = page.get_by_role("checkbox", name="Events")
    assert box_a.is_checked()
    assert box_b.is_checked()
    box_a.uncheck()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved").wait_for(timeout=WAIT_MS)
    assert not page.get_by_role("checkbox", name="Product news").is_checked()
    assert page.get_by_role("checkbox", name="Events").is_checked()
    context.close()

    profile = get_profile(people[ada])
    assert profile is not None
    consent = profile.consents[f"topic:{topic_a}"]
    assert (consent.granted, consent.source) == (False, "preference-center")

    second = _campaign(api, local_stack, segment_id, template_id, topic_a)
    third = _campaign(api, local_stack, segment_id, template_id, topic_b)

    received = outboxes(local_stack, [ada, bo])
    assert len(received[ada]) == 2  # the first campaign's, and topic B's
    assert len(received[bo]) == 3  # changed nothing: every campaign
    skipped = get_send(message_id_for("campaign", second, people[ada]))
    assert skipped is not None
    assert (skipped.status, skipped.reason) == (SendStatus.SKIPPED, f"consent:topic:{topic_a}")
    sent = get_send(message_id_for("campaign", third, people[ada]))
    assert sent is not None
    assert sent.status is SendStatus.SENT
    report = api.ok("GET", f"/marketing/campaigns/{second}/report")
    assert (report["total"]["sent"], report["total"]["skipped"]) == (1, 1)
    assert api.ok("GET", f"/marketing/campaigns/{first}/report")["total"]["skipped"] == 0


def test_the_snippet_waits_for_a_grant_when_the_site_requires_consent(
    browser: Browser, site_origin: str, local_stack: LocalStack
) -> None:
    context = browser.new_context()
    page = context.new_page()
    sent: list[tuple[str, str]] = []
    page.on(
        "request",
        lambda request: (
            sent.append((request.url, request.post_data or ""))
            if request.url.startswith(f"{local_stack.url}/v1/")
            else None
        ),
    )
    page.goto(f"{site_origin}/site.html")
    page.evaluate(
        """([api, key]) => new Promise((resolve) => { const s = document.createElement('script');
        s.src = api + '/js/v1/leadstream.js'; s.setAttribute('data-write-key', key);
        s.setAttribute('data-consent', 'required'); s.onload = resolve; document.body.appendChild(s); })""",
        [local_stack.url, local_stack.write_key],
    )
    page.evaluate("leadstream.track('Clicked Pricing', {plan: 'pro'})")
    page.wait_for_timeout(1000)
    assert sent == []  # no grant yet: nothing sent
    assert "ajs_anonymous_id" not in {cookie["name"] for cookie in context.cookies()}

    page.evaluate("leadstream.consent(true)")  # the visitor accepts: the page view goes, saying so
    page.wait_for_timeout(1000)
    assert [url.rsplit("/", 1)[1] for url, _ in sent] == ["page"]
    assert json.loads(sent[0][1])["context"]["consent"] == {"categoryPreferences": {"tracking": True}}
    context.close()

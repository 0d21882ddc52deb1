"""What a fresh local stack holds: a demo source with a known write key, two forms, and a few visitors.

The demo visitors are sent the way a website would send them: over HTTP to the stack's own API (the
Segment batch endpoint with the write key, and plain form posts), so they travel the whole pipeline.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:  # imported where used: the CLI reads this module's names for its help alone
    from leadstream_local.template import StackTemplate
    from tracking.sources import Source

DEFAULT_WRITE_KEY = "local-demo-write-key"
DEMO_SOURCE_ID = "src-demo"
DEMO_SITE = "https://www.example.com"
DEMO_REQUEST_FORM = "demo-request"
NEWSLETTER_FORM = "newsletter"
# A sales rep, so that the demo's hand-raiser has an owner who gets the "new lead" email (`leadstream
# outbox`); `leadstream token --role sales --user sam` signs in as this rep.
DEMO_SALES_USER = "sam"


def seed_source(write_key: str = DEFAULT_WRITE_KEY) -> Source:
    """Put the demo source and its forms into the main table (the stack's environment must be active)."""
    from pydantic import HttpUrl

    from tracking.sources import Form, Source
    from tracking.store.sources import put_form, put_source

    source = Source(source_id=DEMO_SOURCE_ID, name="Demo site", write_key=write_key)
    put_source(source)
    put_form(
        Form(
            form_id=DEMO_REQUEST_FORM,
            source_id=DEMO_SOURCE_ID,
            name="Request a demo",
            hand_raiser=True,
            thank_you_url=HttpUrl(f"{DEMO_SITE}/thank-you"),
        )
    )
    put_form(Form(form_id=NEWSLETTER_FORM, source_id=DEMO_SOURCE_ID, name="Newsletter"))
    return source


def seed_sales_user(template: StackTemplate, client: Any) -> None:
    """Create the demo sales rep in the stack's user pool (group `sales`)."""
    from leadstream_local.auth import issue_token

    issue_token(template, client, role="sales", user=DEMO_SALES_USER)


@dataclass(frozen=True)
class Sent:
    what: str
    status: int

    @property
    def accepted(self) -> bool:
        # A plain HTML form post is answered with a redirect to the thank-you page.
        return self.status < 400


def _page(visitor: str, path: str, title: str, number: int) -> dict[str, object]:
    return {
        "type": "page",
        "messageId": f"demo-{visitor}-{number}",
        "anonymousId": visitor,
        "name": title,
        "properties": {"path": path, "url": f"{DEMO_SITE}{path}", "title": title},
        "context": {"page": {"path": path, "url": f"{DEMO_SITE}{path}"}},
    }


def demo_batch() -> list[dict[str, object]]:
    """Three visitors: one browses and signs up, two read a little (they fill in forms next)."""
    ada, grace, alan = "demo-visitor-ada", "demo-visitor-grace", "demo-visitor-alan"
    return [
        _page(ada, "/", "Home", 1),
        _page(ada, "/pricing", "Pricing", 2),
        {
            "type": "identify",
            "messageId": f"demo-{ada}-3",
            "anonymousId": ada,
            "userId": "demo-user-ada",
            "traits": {"email": "ada@example.com", "name": "Ada Lovelace", "company": "Analytical Engines"},
        },
        {
            "type": "track",
            "messageId": f"demo-{ada}-4",
            "userId": "demo-user-ada",
            "event": "Signed Up",
            "properties": {"plan": "pro"},
        },
        _page(grace, "/", "Home", 1),
        _page(grace, "/blog/serverless-crm", "A CRM without servers", 2),
        _page(alan, "/docs", "Docs", 1),
    ]


def demo_forms() -> list[tuple[str, dict[str, str]]]:
    return [
        (
            DEMO_REQUEST_FORM,
            {
                "email": "grace@example.com",
                "name": "Grace Hopper",
                "company": "Compilers Inc",
                "anonymousId": "demo-visitor-grace",
            },
        ),
        (NEWSLETTER_FORM, {"email": "alan@example.com", "anonymousId": "demo-visitor-alan"}),
    ]


def send_demo_traffic(api_url: str, write_key: str) -> list[Sent]:
    """Send the demo visitors' events and form posts to the stack's API; report each request's status."""
    basic = base64.b64encode(f"{write_key}:".encode()).decode()
    batch = json.dumps({"batch": demo_batch()}).encode()
    sent = [
        Sent(
            f"{len(demo_batch())} events",
            _post(
                api_url,
                "/v1/batch",
                batch,
                {"Content-Type": "application/json", "Authorization": f"Basic {basic}"},
            ),
        )
    ]
    for form_id, fields in demo_forms():
        status = _post(
            api_url,
            f"/forms/{form_id}",
            urlencode(fields).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "text/html",
                "Referer": f"{DEMO_SITE}/contact?utm_source=demo",
            },
        )
        sent.append(Sent(f"form {form_id}", status))
    return sent


def _post(api_url: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    """One POST; redirects are not followed (the thank-you page is on the demo site, not here)."""
    import http.client

    address = urlsplit(api_url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()

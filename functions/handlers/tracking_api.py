"""Tracking HTTP API: Segment/RudderStack events, the pixel and form posts. Thin: request in, outcome out.

Routes are declared in template.yaml; errors become problem+json in leadstream.http; preflights are
answered by the resolver's CORS config (a preflight carries no write key, so it cannot be per source).
"""

from __future__ import annotations

import base64
import warnings
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from leadstream.http import create_resolver
from leadstream.settings import get_settings
from tracking import logic

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
# A CORS preflight stores nothing and so records no metric; that is expected, not worth a warning each time.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
app = create_resolver(allowed_origins=get_settings().allowed_origins)


@app.post("/v1/<kind>")
def segment_api(kind: str) -> dict[str, Any]:
    outcome = logic.track(kind, _request(), logic.dynamo_store())
    _count(outcome)
    return outcome.to_json()


@app.get("/pixel/v1/<kind>")
def pixel(kind: str) -> Response[bytes]:
    from tracking.pixel import NO_STORE_HEADERS, PIXEL_GIF

    _count(logic.track_pixel(kind, _request(), logic.dynamo_store()))
    return Response(status_code=200, content_type="image/gif", body=PIXEL_GIF, headers=NO_STORE_HEADERS)


@app.post("/forms/<form_id>")
def form_post(form_id: str) -> Response[str] | dict[str, Any]:
    outcome = logic.submit_form(form_id, _request(), logic.dynamo_store())
    _count(outcome)
    if outcome.redirect_to:
        # 303 makes the browser GET the thank-you page, so a reload does not post the form again.
        return Response(status_code=303, headers={"Location": outcome.redirect_to})
    return outcome.to_json()


# --- marketing email links (mail/link_tracking.py); the token in the path is signed -----------------
@app.get("/email/open/<token>")
def email_open(token: str) -> Response[bytes]:
    from mail.link_tracking import email_links
    from tracking.pixel import NO_STORE_HEADERS, PIXEL_GIF

    email_links().open(token, _visit())
    return Response(status_code=200, content_type="image/gif", body=PIXEL_GIF, headers=NO_STORE_HEADERS)


@app.get("/email/click/<token>")
def email_click(token: str) -> Response[str]:
    from mail.link_tracking import email_links

    target = email_links().click(token, _visit())
    # no-referrer: the destination must not learn the tracking URL (its token names the email).
    headers = {"Location": target, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(status_code=302, headers=headers)


@app.get("/email/unsubscribe/<token>")
def email_unsubscribe_page(token: str) -> Response[str]:
    from mail import pages as email_pages
    from mail.link_tracking import email_links

    record = email_links().unsubscribe_target(token)
    page = email_pages.confirm_page(record.email) if record else email_pages.not_found_page()
    return Response(200, email_pages.HTML_TYPE, page, headers=email_pages.PAGE_HEADERS)


@app.post("/email/unsubscribe/<token>")
def email_unsubscribe(token: str) -> Response[str]:
    from mail import pages as email_pages
    from mail.link_tracking import email_links

    one_click = b"List-Unsubscribe=One-Click" in _request().body
    record = email_links().unsubscribe(token, _visit(), one_click=one_click)
    if "text/html" not in (app.current_event.headers or {}).get("accept", ""):
        return Response(200, "text/plain; charset=utf-8", "Unsubscribed." if record else "Not found.")
    page = email_pages.done_page(record.email) if record else email_pages.not_found_page()
    return Response(200, email_pages.HTML_TYPE, page, headers=email_pages.PAGE_HEADERS)


def _visit() -> Any:
    from mail.link_tracking import Visit

    event = app.current_event
    return Visit(
        user_agent=(event.headers or {}).get("user-agent"), source_ip=event.request_context.http.source_ip
    )


def _request() -> logic.HttpRequest:
    event = app.current_event
    raw = event.body or ""
    # Not event.decoded_body: that decodes to text, and a gzip or multipart body is bytes.
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
    return logic.HttpRequest(
        headers={name.lower(): value for name, value in (event.headers or {}).items()},
        body=body,
        query=event.query_string_parameters or {},
        cookies=tuple(event.cookies),
    )


def _count(outcome: logic.Outcome) -> None:
    if outcome.accepted:
        metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=outcome.accepted)
    if outcome.rejected:
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=len(outcome.rejected))
        logger.info("Stored a batch without its invalid events", rejected=len(outcome.rejected))
    if outcome.dropped_as_spam:
        metrics.add_metric(name="FormSpamDropped", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = app.resolve(event, context)
    if 400 <= response["statusCode"] < 500:
        # Whole requests refused (auth, size, shape): events we never saw, so counted apart.
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    return response

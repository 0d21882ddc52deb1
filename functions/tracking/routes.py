"""The public tracking routes: the Segment/RudderStack HTTP API, the pixel and form posts (no auth: a
write key or a form id says whose they are). Thin: request in, tracking.logic, outcome out."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from tracking import logic
from tracking.pixel import NO_STORE_HEADERS, PIXEL_GIF

logger = Logger(child=True)
metrics = Metrics()
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
# Request headers browser SDKs send beyond the ones every API allows (leadstream.http.API_REQUEST_HEADERS),
# for the tracking function's CORS preflight. analytics-next marks each resend of an event with
# X-Retry-Count; a preflight that refused it would make the browser drop every retried event.
BROWSER_SDK_HEADERS = ("X-Retry-Count",)


@router.post("/v1/<kind>")
def segment_api(kind: str) -> dict[str, Any]:
    outcome = logic.track(kind, _request(), logic.dynamo_store())
    _count(outcome)
    return outcome.to_json()


@router.get("/pixel/v1/<kind>")
def pixel(kind: str) -> Response[bytes]:
    _count(logic.track_pixel(kind, _request(), logic.dynamo_store()))
    return Response(status_code=200, content_type="image/gif", body=PIXEL_GIF, headers=NO_STORE_HEADERS)


@router.post("/forms/<form_id>")
def form_post(form_id: str) -> Response[str] | dict[str, Any]:
    outcome = logic.submit_form(form_id, _request(), logic.dynamo_store())
    _count(outcome)
    if outcome.redirect_to:
        # 303 makes the browser GET the thank-you page, so a reload does not post the form again.
        return Response(status_code=303, headers={"Location": outcome.redirect_to})
    return outcome.to_json()


def _request() -> logic.HttpRequest:
    event = router.current_event
    raw = event.body or ""
    # Not event.decoded_body: that decodes to text, and a gzip or multipart body is bytes. A lone
    # surrogate in a text body passes through as the invalid UTF-8 it is, for the body check to refuse.
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8", "surrogatepass")
    return logic.HttpRequest(
        headers={name.lower(): value for name, value in (event.headers or {}).items()},
        body=body,
        query=event.query_string_parameters or {},
        cookies=tuple(event.cookies),
        raw_query=event.raw_query_string,
        source_ip=event.request_context.http.source_ip,
    )


def _count(outcome: logic.Outcome) -> None:
    if outcome.accepted:
        metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=outcome.accepted)
    if outcome.rejected:
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=len(outcome.rejected))
        logger.info("Stored a batch without its invalid events", rejected=len(outcome.rejected))
    if outcome.dropped_as_spam:
        metrics.add_metric(name="FormSpamDropped", unit=MetricUnit.Count, value=1)

"""The public website routes (no auth: a slug, an asset id or a slot id is all a visitor has):
landing pages, their forms, asset downloads, the snippet, slots, pop-ups and their events. Thin: the
HTTP request in as a `Visit`, website.public, the answer out.

Bad input is a 4xx problem+json (leadstream.http), never a 5xx; a browser asking for a page that is not
there gets a small HTML page with the same status.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadstream.errors import LeadstreamError, NotFound, PayloadTooLarge
from leadstream.http import problem_for
from website import pages, public, snippet

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
MAX_BODY_BYTES = 64 * 1024


def _visit() -> public.Visit:
    event = router.current_event
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8", "surrogatepass")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}.")
    return public.Visit(
        method=event.http_method.upper(),
        path=event.path,
        headers={name.lower(): value for name, value in (event.headers or {}).items()},
        query=event.query_string_parameters or {},
        cookies=tuple(event.cookies),
        body=body,
    )


def _answer(answer: public.Answer) -> Response[str]:
    return Response(
        status_code=answer.status,
        body=answer.body,
        headers=dict(answer.headers),
        content_type=answer.headers.get("Content-Type"),
        cookies=list(answer.cookies),
    )


def _html_error(error: LeadstreamError) -> Response[str]:
    """A browser gets the problem as a page; a script gets problem+json."""
    accept = (router.current_event.headers or {}).get("accept", "")
    if "text/html" not in accept:
        return problem_for(error)
    body = pages.message_page(error.title, error.detail)
    return Response(
        status_code=error.status, body=body, headers=pages.headers(), content_type=pages.HTML_TYPE
    )


@router.get("/p/<slug>")
def view_page(slug: str) -> Response[str]:
    try:
        return _answer(public.view_page(slug, _visit()))
    except NotFound as error:
        return _html_error(error)


@router.post("/p/<slug>")
def submit_page(slug: str) -> Response[str]:
    try:
        return _answer(public.submit_page(slug, _visit()))
    except LeadstreamError as error:
        return _html_error(error)


@router.get("/a/<asset_id>")
def download(asset_id: str) -> Response[str]:
    try:
        return _answer(public.download(asset_id, _visit()))
    except NotFound as error:
        return _html_error(error)


@router.get("/js/v1/leadstream.js")
def leadstream_js() -> Response[str]:
    headers = snippet.headers()
    if (router.current_event.headers or {}).get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, body="", headers=headers)
    return Response(status_code=200, body=snippet.source(), headers=headers, content_type=snippet.JS_TYPE)


@router.get("/w/slots/<slot_id>")
def fill_slot(slot_id: str) -> dict[str, Any]:
    return public.fill_slot(slot_id, _visit())


@router.get("/w/popups")
def popups() -> dict[str, Any]:
    return public.popups_for(_visit())


@router.post("/w/popups/<popup_id>/events")
def popup_event(popup_id: str) -> dict[str, Any]:
    return public.popup_event(popup_id, _visit())


@router.get("/w/forms/<form_id>")
def form_html(form_id: str) -> dict[str, Any]:
    return public.form_html(form_id, _visit())


@router.post("/w/forms/<form_id>")
def submit_form(form_id: str) -> dict[str, Any]:
    return public.submit_form(form_id, _visit())


@router.post("/w/pages/<slug>/conversions")
def page_conversion(slug: str) -> dict[str, Any]:
    return public.page_conversion(slug, _visit())

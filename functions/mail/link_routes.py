"""The public email routes: open pixel, click redirect, and the unsubscribe link: RFC 8058 one-click, and
the preference center for people (mail.preferences). No auth: the token in the path is signed
(mail.link_tokens). Logic: mail.link_tracking."""

from __future__ import annotations

import base64

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from mail import pages
from mail.link_tracking import Visit, email_links
from mail.preferences import preference_center
from tracking.pixel import NO_STORE_HEADERS, PIXEL_GIF

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated


@router.get("/email/open/<token>")
def email_open(token: str) -> Response[bytes]:
    email_links().open(token, _visit())
    return Response(status_code=200, content_type="image/gif", body=PIXEL_GIF, headers=NO_STORE_HEADERS)


@router.get("/email/click/<token>")
def email_click(token: str) -> Response[str]:
    target = email_links().click(token, _visit())
    # no-referrer: the destination must not learn the tracking URL (its token names the email).
    headers = {"Location": target, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(status_code=302, headers=headers)


@router.get("/email/unsubscribe/<token>")
def email_preferences_page(token: str) -> Response[str]:
    """The preference center (mail.preferences): shows, changes nothing."""
    preferences = preference_center().show(token)
    if preferences is None:
        return Response(404, pages.HTML_TYPE, pages.not_found_page(), headers=pages.PAGE_HEADERS)
    return Response(200, pages.HTML_TYPE, pages.preferences_page(preferences), headers=pages.PAGE_HEADERS)


@router.post("/email/unsubscribe/<token>")
def email_preferences_save(token: str) -> Response[str]:
    """The preference center's forms, and RFC 8058 one-click unsubscribe from mail clients."""
    headers = router.current_event.headers or {}
    preferences, action = preference_center().submit(token, _body(), headers.get("content-type"), _visit())
    if "text/html" not in headers.get("accept", ""):
        if preferences is None:
            return Response(404, "text/plain; charset=utf-8", "Not found.")
        return Response(200, "text/plain; charset=utf-8", "Saved." if action == "save" else "Unsubscribed.")
    if preferences is None:
        return Response(404, pages.HTML_TYPE, pages.not_found_page(), headers=pages.PAGE_HEADERS)
    page = (
        pages.preferences_page(preferences) if action == "save" else pages.done_page(preferences.record.email)
    )
    return Response(200, pages.HTML_TYPE, page, headers=pages.PAGE_HEADERS)


def _body() -> bytes:
    event = router.current_event
    raw = event.body or ""
    return base64.b64decode(raw) if event.is_base64_encoded else raw.encode()


def _visit() -> Visit:
    event = router.current_event
    return Visit(
        user_agent=(event.headers or {}).get("user-agent"), source_ip=event.request_context.http.source_ip
    )

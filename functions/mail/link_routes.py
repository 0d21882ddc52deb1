"""The public email routes: open pixel, click redirect and unsubscribe (RFC 8058 one-click, and a page
for people). No auth: the token in the path is signed (mail.link_tokens). Logic: mail.link_tracking."""

from __future__ import annotations

import base64

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from mail import pages
from mail.link_tracking import Visit, email_links
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
def email_unsubscribe_page(token: str) -> Response[str]:
    record = email_links().unsubscribe_target(token)
    page = pages.confirm_page(record.email) if record else pages.not_found_page()
    return Response(200, pages.HTML_TYPE, page, headers=pages.PAGE_HEADERS)


@router.post("/email/unsubscribe/<token>")
def email_unsubscribe(token: str) -> Response[str]:
    one_click = b"List-Unsubscribe=One-Click" in _body()
    record = email_links().unsubscribe(token, _visit(), one_click=one_click)
    if "text/html" not in (router.current_event.headers or {}).get("accept", ""):
        return Response(200, "text/plain; charset=utf-8", "Unsubscribed." if record else "Not found.")
    page = pages.done_page(record.email) if record else pages.not_found_page()
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

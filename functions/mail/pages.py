"""The small HTML pages of the unsubscribe link: the confirmation (a form) and the result."""

from __future__ import annotations

import html

# The page needs nothing from anywhere; the token in its URL must not leak through a Referer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
HTML_TYPE = "text/html; charset=utf-8"

_STYLE = (
    "body{font-family:system-ui,Arial,sans-serif;background:#f6f6f6;color:#222;margin:0}"
    "main{max-width:28rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:8px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.1)}h1{font-size:1.3rem;margin-top:0}"
    "button{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#c62828;"
    "color:#fff;cursor:pointer}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )


def mask(email: str) -> str:
    """j•••@example.com: enough for the owner to recognise, little for anyone else who sees the page."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def confirm_page(email: str | None) -> str:
    """A GET shows this and changes nothing (mail scanners fetch links); the button POSTs the same URL."""
    who = f" <strong>{html.escape(mask(email))}</strong>" if email else ""
    return _page(
        "Unsubscribe",
        f"<p>Stop all marketing email to{who or ' this address'}?</p>"
        '<form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


def done_page(email: str | None) -> str:
    who = html.escape(mask(email)) if email else "This address"
    return _page(
        "You are unsubscribed",
        f"<p>{who} will get no more marketing email from us. "
        "Messages already on their way may still arrive for a short while.</p>",
    )


def not_found_page() -> str:
    return _page(
        "Nothing to unsubscribe",
        "<p>This link is not for an email we sent (it may come from a preview). "
        "If you keep getting our email, reply to it and ask us to stop.</p>",
    )

"""The small HTML pages of the unsubscribe link: the preference center (a form), the confirmation of an
unsubscribe, and the page for a link that is not ours."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mail.preferences import Preferences

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
    "fieldset{border:0;padding:0;margin:0 0 1rem}label{display:block;margin:.4rem 0}"
    "small{color:#666;display:block;margin-left:1.6rem}button.save{background:#1565c0}"
    "hr{border:0;border-top:1px solid #ddd;margin:1.5rem 0}"
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


def preferences_page(preferences: Preferences) -> str:
    """The preference center: a GET shows this and changes nothing; its two forms POST the same URL."""
    email = preferences.record.email
    who = f"<p>Email to <strong>{html.escape(mask(email))}</strong></p>" if email else ""
    notice = '<p role="status">Your choices are saved.</p>' if preferences.saved else ""
    state = "<p>You are unsubscribed from all our marketing email.</p>" if preferences.unsubscribed else ""
    topics = ""
    if preferences.topics and not preferences.unsubscribed:
        boxes = "".join(
            f'<label><input type="checkbox" name="topic" value="{html.escape(choice.topic.topic_id)}"'
            f"{' checked' if choice.subscribed else ''}> {html.escape(choice.topic.name)}"
            + (f"<small>{html.escape(choice.topic.description)}</small>" if choice.topic.description else "")
            + "</label>"
            for choice in preferences.topics
        )
        topics = (
            '<form method="post"><input type="hidden" name="action" value="save">'
            f"<fieldset><legend>What would you like to hear about?</legend>{boxes}</fieldset>"
            '<button class="save" type="submit">Save my choices</button></form><hr>'
        )
    unsubscribe = (
        ""
        if preferences.unsubscribed
        else '<form method="post"><input type="hidden" name="action" value="unsubscribe-all">'
        "<p>Or stop all our marketing email:</p>"
        '<button type="submit">Unsubscribe from all</button></form>'
    )
    return _page("Your email preferences", f"{notice}{who}{state}{topics}{unsubscribe}")


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

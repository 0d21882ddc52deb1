"""Landing pages as HTML: the marketer's template and blocks rendered in the email engine's sandbox
(mail/rendering.py: no `safe`, no includes, bounded time and size, unsafe URLs dropped), personalised
with the visitor's traits (always escaped), inside a document with Open Graph tags, and the headers
every page is sent with (a Content-Security-Policy among them).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from mail.rendering import RenderError, personalization, render
from mail.rendering import check as check_content
from mail.template_models import TemplateContent
from website.models import MAX_TEMPLATE_CHARS

HTML_TYPE = "text/html; charset=utf-8"
SNIPPET_PATH = "/js/v1/leadstream.js"
STYLE = (
    "body{font-family:system-ui,Arial,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}"
    ".ls-page{max-width:42rem;margin:0 auto;padding:2rem 1rem}"
    ".ls-field{margin:.8rem 0;display:flex;flex-direction:column;gap:.25rem}"
    ".ls-check{flex-direction:row}.ls-field input,.ls-field select,.ls-field textarea{font-size:1rem;"
    "padding:.45rem}.ls-field-error,.ls-form-error{color:#b00020}.ls-hp{position:absolute;left:-9999px}"
    ".ls-asset{display:inline-block;padding:.6rem 1.2rem;background:#0b57d0;color:#fff;border-radius:4px;"
    "text-decoration:none}button{font-size:1rem;padding:.6rem 1.2rem}"
)


def csp(form_origins: Sequence[str] = ()) -> str:
    """Nothing runs but our own snippet; images from anywhere secure; forms post here (and their
    thank-you redirects go to the allowed origins, which browsers check against form-action too)."""
    targets = " ".join(["'self'", *sorted(set(form_origins))])
    return (
        "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' https: data:; "
        f"style-src 'self' 'unsafe-inline'; form-action {targets}; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    )


def headers(form_origins: Sequence[str] = ()) -> dict[str, str]:
    # Every view is personalised (the visitor's variant, their progressive form) and counted, so a CDN
    # keeps no copy and passes each view to the origin; the browser revalidates.
    return {
        "Content-Type": HTML_TYPE,
        "Cache-Control": "private, no-cache, max-age=0",
        "Vary": "Cookie",
        "Content-Security-Policy": csp(form_origins),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def check_template(part: str, source: str) -> None:
    """Refuse (422, naming `part` and the line) what the sandbox would refuse."""
    try:
        check_content(_content(source))
    except RenderError as exc:
        raise RenderError(part, exc.detail.split(": ", 1)[-1]) from None


def _content(source: str) -> TemplateContent:
    return TemplateContent(name="page", subject="page", html=source, text="")


def sandboxed(source: str, context: Mapping[str, Any]) -> Markup:
    """`source` rendered in the sandbox with `context` (HTML-escaped values; Markup values go as they are)."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise RenderError("html", f"at most {MAX_TEMPLATE_CHARS} characters")
    return Markup(render(_content(source), context).html)


def visitor_context(traits: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a page's templates see of the visitor: their traits (`first_name` ...), never their email."""
    return personalization(traits or {}, email=None, unsubscribe_url="")


def document(
    *,
    title: str,
    description: str | None,
    url: str,
    og_image: str | None,
    body: str,
    snippet_key: str | None = None,
    head: str = "",
) -> str:
    """The whole page: head with title, description and Open Graph tags; `body` is already safe HTML;
    with `snippet_key` (the source's write key) the snippet is loaded too."""
    meta = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f'<meta property="og:title" content="{html.escape(title, quote=True)}">',
        '<meta property="og:type" content="website">',
        f'<meta property="og:url" content="{html.escape(url, quote=True)}">',
    ]
    if description:
        meta.append(f'<meta name="description" content="{html.escape(description, quote=True)}">')
        meta.append(f'<meta property="og:description" content="{html.escape(description, quote=True)}">')
    if og_image:
        meta.append(f'<meta property="og:image" content="{html.escape(og_image, quote=True)}">')
    meta.append(f"<style>{STYLE}</style>{head}")
    # The snippet, for pop-ups and `leadstream.track` on the page (the view itself is already counted).
    script = (
        f'<script src="{SNIPPET_PATH}" data-write-key="{html.escape(snippet_key, quote=True)}" '
        'data-page-view="off" defer></script>'
        if snippet_key
        else ""
    )
    return f'<!doctype html><html lang="en"><head>{"".join(meta)}</head><body>{body}{script}</body></html>'


def message_page(title: str, message: str, *, link: tuple[str, str] | None = None) -> str:
    """A plain page (a thank-you, a page that is not there): escaped text only; `link` (a path on this
    site and its label) is offered as a button and followed at once (a download)."""
    extra, head = "", ""
    if link:
        href = html.escape(link[0], quote=True)
        extra = f'<p><a class="ls-asset" href="{href}">{html.escape(link[1])}</a></p>'
        head = f'<meta http-equiv="refresh" content="0;url={href}">'
    body = f'<main class="ls-page"><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{extra}</main>'
    return document(title=title, description=None, url="", og_image=None, body=body, head=head)

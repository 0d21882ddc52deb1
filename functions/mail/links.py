"""What every marketing email carries besides its content: click-tracked links, the open pixel, a visible
unsubscribe link and the sender's postal address (in both parts), and the one-click unsubscribe headers.

Links are found with an HTML parser (not a regular expression over the whole document), so links inside
comments, scripts or attribute values are left alone. A link is tracked when it is http(s); `mailto:`,
`tel:`, anchors, relative links, links to our own tracking endpoints and links marked `data-no-track`
stay as they are. The same URL gets the same index wherever it appears, in HTML or text. Any other scheme
(`javascript:` ...) never gets here: rendering removed it (mail/html_links.py), and in the text part only
http(s) URLs are rewritten.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from mail.html_links import is_at_offset, start_tags
from mail.link_tokens import LinkSigner
from mail.rendering import RenderedParts

_HREF = re.compile(r"""(\shref\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>"'()\[\]]+""")
_TRAILING_PUNCTUATION = ".,;:!?"
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class InstrumentedEmail:
    subject: str
    html: str
    text: str
    links: tuple[str, ...]  # the original URLs, by index
    open_url: str
    unsubscribe_url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Links:
    """The email's tracked URLs, indexed in order of first appearance."""

    signer: LinkSigner
    message_id: str
    urls: list[str] = field(default_factory=list)

    def tracked(self, url: str) -> str:
        if url not in self.urls:
            self.urls.append(url)
        return self.signer.click_url(self.message_id, self.urls.index(url), url)

    def should_track(self, url: str) -> bool:
        own = self.signer.base_url.rstrip("/") + "/email/"
        return url.lower().startswith(("http://", "https://")) and not url.startswith(own)


def _anchors(source: str) -> list[tuple[int, str, str]]:
    """Where each `<a href>` start tag to consider is, as (offset, tag text, href)."""
    found = []
    for tag in start_tags(source):
        if not is_at_offset(source, tag):
            continue  # left as it is: untracked
        values = dict(tag.attrs)
        href = values.get("href")
        if tag.name == "a" and href is not None and "data-no-track" not in values:
            found.append((tag.offset, tag.text, href.strip()))
    return found


def _track_html(source: str, links: _Links) -> str:
    out: list[str] = []
    position = 0
    for offset, tag_text, href in _anchors(source):
        if not links.should_track(href):
            continue
        new_tag = _with_href(tag_text, html.escape(links.tracked(href), quote=True))
        out += [source[position:offset], new_tag]
        position = offset + len(tag_text)
    out.append(source[position:])
    return "".join(out)


def _with_href(tag_text: str, url: str) -> str:
    return _HREF.sub(lambda match: f'{match.group(1)}"{url}"', tag_text, count=1)


def _track_text(source: str, links: _Links) -> str:
    def replace(match: re.Match[str]) -> str:
        url = match.group(0)
        stripped = url.rstrip(_TRAILING_PUNCTUATION)
        trailing = url[len(stripped) :]
        return (links.tracked(stripped) if links.should_track(stripped) else stripped) + trailing

    return _TEXT_URL.sub(replace, source)


def _html_footer(postal_address: str, unsubscribe_url: str, sender_name: str) -> str:
    who = f"{html.escape(sender_name)} sent you this email. " if sender_name else ""
    return (
        '\n<div style="margin-top:24px;padding-top:12px;border-top:1px solid #dddddd;'
        'font-family:Arial,sans-serif;font-size:12px;line-height:18px;color:#666666">'
        f'<p style="margin:0 0 6px 0">{html.escape(postal_address)}</p>'
        f'<p style="margin:0">{who}Choose what you hear about, or stop these emails: '
        f'<a href="{html.escape(unsubscribe_url, quote=True)}" style="color:#666666">Email preferences '
        "and unsubscribe</a>.</p>"
        "</div>\n"
    )


def _pixel(open_url: str) -> str:
    return (
        f'<img src="{html.escape(open_url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px" />'
    )


def _preheader(text: str) -> str:
    return (
        '<div style="display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all">'
        f"{html.escape(text)}</div>"
    )


def _insert_after_body_open(document: str, fragment: str) -> str:
    match = _BODY_OPEN.search(document)
    return document[: match.end()] + fragment + document[match.end() :] if match else fragment + document


def _insert_before_body_close(document: str, fragment: str) -> str:
    matches = list(_BODY_CLOSE.finditer(document))
    if not matches:
        return document + fragment
    last = matches[-1]
    return document[: last.start()] + fragment + document[last.start() :]


def unsubscribe_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 2369 + RFC 8058: mail clients show an unsubscribe button that POSTs to the URL at once."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def instrument(
    parts: RenderedParts,
    *,
    signer: LinkSigner,
    message_id: str,
    postal_address: str,
    sender_name: str = "",
) -> InstrumentedEmail:
    """Track the links of both parts; add the preheader, the footer, the open pixel and the unsubscribe
    headers."""
    links = _Links(signer, message_id)
    unsubscribe_url = signer.unsubscribe_url(message_id)
    open_url = signer.open_url(message_id)
    body = _track_html(parts.html, links)
    if parts.preheader:
        body = _insert_after_body_open(body, _preheader(parts.preheader))
    body = _insert_before_body_close(
        body, _html_footer(postal_address, unsubscribe_url, sender_name) + _pixel(open_url)
    )
    text = _track_text(parts.text, links).rstrip("\n")
    text += f"\n\n--\n{postal_address}\nEmail preferences and unsubscribe: {unsubscribe_url}\n"
    return InstrumentedEmail(
        subject=parts.subject,
        html=body,
        text=text,
        links=tuple(links.urls),
        open_url=open_url,
        unsubscribe_url=unsubscribe_url,
        headers=unsubscribe_headers(unsubscribe_url),
    )

"""The local stack's outbox: every email its functions sent through the embedded SES.

moto keeps sent messages in memory and lists every model instance at `/moto-api/data.json`; this reads
simple messages (subject and body, as the SES v2 SendEmail "Simple" content) and raw MIME messages alike,
so `leadstream outbox` and tests see what a recipient would get.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from email import message_from_string
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TextIO

DATA_ATTEMPTS = 5


@dataclass(frozen=True)
class OutboxEmail:
    message_id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    body: str  # plain text (an HTML-only body is turned into text)
    html: str = ""  # the HTML part as sent (tracking links and all), when there is one
    unsubscribe: str = ""  # the List-Unsubscribe header (marketing email carries one)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "to": list(self.to)}


def read_outbox(aws_url: str, *, to: str | None = None) -> list[OutboxEmail]:
    """Every email the embedded SES accepted, oldest first (only those to `to`, if given)."""
    models = _moto_models(aws_url).get("ses", {})
    emails = [_simple(item) for item in models.get("Message", [])]
    emails += [_raw(item) for item in models.get("RawMessage", [])]
    wanted = to.strip().lower() if to else None
    return [
        email for email in emails if wanted is None or wanted in (address.lower() for address in email.to)
    ]


def _moto_models(aws_url: str) -> dict[str, Any]:
    """moto's list of every model instance. moto builds it by walking live objects while the stack's
    functions and pollers keep working, and under load it has answered 500 now and then: it is a read, so
    it is asked again (a 500 every time still fails)."""
    url = f"{aws_url.rstrip('/')}/moto-api/data.json"
    for attempt in range(1, DATA_ATTEMPTS):
        try:
            return _read_json(url)
        except urllib.error.HTTPError as exc:
            if exc.code != 500:
                raise
            time.sleep(0.2 * attempt)
    return _read_json(url)


def _read_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return dict(json.load(response))


def print_outbox(emails: list[OutboxEmail], out: TextIO) -> None:
    if not emails:
        print("The outbox is empty: no email was sent yet.", file=out)
        return
    for number, email in enumerate(emails, 1):
        print(f"--- {number}/{len(emails)}  {email.message_id}", file=out)
        print(f"From:    {email.sender}", file=out)
        print(f"To:      {', '.join(email.to)}", file=out)
        print(f"Subject: {email.subject}", file=out)
        if email.unsubscribe:
            print(f"List-Unsubscribe: {email.unsubscribe}", file=out)
        print("", file=out)
        print(email.body.rstrip(), file=out)
        print("", file=out)


def _simple(item: dict[str, Any]) -> OutboxEmail:
    destinations = item.get("destinations") or {}
    to = tuple(destinations.get("ToAddresses", [])) if isinstance(destinations, dict) else tuple(destinations)
    body = str(item.get("body", ""))
    return OutboxEmail(
        message_id=str(item.get("id", "")),
        sender=str(item.get("source", "")),
        to=to,
        subject=str(item.get("subject", "")),
        body=html_to_text(body) if _looks_like_html(body) else body,
        html=body if _looks_like_html(body) else "",
    )


def _raw(item: dict[str, Any]) -> OutboxEmail:
    message = message_from_string(str(item.get("raw_data", "")))
    to = tuple(address.strip() for address in str(message.get("To", "")).split(",") if address.strip())
    return OutboxEmail(
        message_id=str(item.get("id", "")),
        sender=str(item.get("source") or message.get("From", "")),
        to=to or tuple(item.get("destinations") or ()),
        subject=str(message.get("Subject", "")),
        body=_raw_body(message),
        html=_part(message, "text/html") or "",
        unsubscribe=str(message.get("List-Unsubscribe", "")),
    )


def _raw_body(message: Message) -> str:
    text = _part(message, "text/plain")
    if text is not None:
        return text
    html = _part(message, "text/html")
    return html_to_text(html) if html is not None else ""


def _part(message: Message, wanted: str) -> str | None:
    """The decoded text of the message's first `wanted` part (None: it has none)."""
    parts = list(message.walk()) if message.is_multipart() else [message]
    for part in parts:
        if part.get_content_type() == wanted:
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            return raw.decode(part.get_content_charset() or "utf-8", "replace")
    return None


def save_html(emails: list[OutboxEmail], directory: Path) -> list[Path]:
    """Write each email's HTML part to `directory` (one file per email, numbered as listed) to open in a
    browser: the rendered email, with its real tracking links pointing at the local stack."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for number, email in enumerate(emails, 1):
        if email.html:
            path = directory / f"{number:03d}-{email.message_id[:40]}.html"
            path.write_text(email.html, encoding="utf-8")
            written.append(path)
    return written


def _looks_like_html(body: str) -> bool:
    return body.lstrip().startswith("<")


class _Text(HTMLParser):
    BREAKS = frozenset({"p", "br", "tr", "div", "ul", "table", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self.parts.append("\n  - ")
        elif tag in ("th", "td"):
            self.parts.append(" ")
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Enough of an HTML body to read it in a terminal: text, line breaks, list items."""
    parser = _Text()
    parser.feed(html)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(line if not line.startswith("- ") else f"  {line}" for line in lines if line)

"""HTML to plain text, for the text part of an email whose template has none."""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = frozenset(
    {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr", "section"}
)
SKIPPED = frozenset({"style", "script", "head", "title"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping = 0
        self._link: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self._skipping += 1
        elif tag in BLOCKS:
            self.pieces.append("\n")
        elif tag == "a":
            self._link = dict(attrs).get("href")
            self._link_text = []
        if tag == "li":
            self.pieces.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in BLOCKS:
            self.pieces.append("\n")
        elif tag == "a" and self._link is not None:
            text = " ".join("".join(self._link_text).split())
            if self._link.startswith(("http://", "https://")) and self._link != text:
                self.pieces.append(f" ({self._link})")
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        self.pieces.append(data)
        if self._link is not None:
            self._link_text.append(data)


def to_text(html: str) -> str:
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.pieces).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"

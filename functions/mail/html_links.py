"""URLs in a rendered HTML part: where each start tag is, and which URL attributes are safe to send.

A trait used as a link (`<a href="{{ traits.website }}">`) is typed by a visitor, so it may be
`javascript:alert(1)`, `data:text/html,...` or `vbscript:...`, in any letter case, with spaces, tabs or
control characters inside, or spelled with character references (`&#106;avascript:`). Every URL attribute
of the rendered HTML (URL_ATTRIBUTES) is read as a browser reads it (references decoded, tabs, newlines,
spaces and control characters ignored) and, unless it is relative or its scheme is one of ALLOWED_SCHEMES,
the attribute is removed: the element stays (a link's text, an image's box) but leads nowhere. Whatever the
URL came from, so no template can send one either; saving a template whose own links break the rule is
refused (mail/rendering.py). Link tracking (mail/links.py) then rewrites only http(s) links.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "srcset",
        "action",
        "formaction",
        "background",
        "poster",
        "cite",
        "longdesc",
        "lowsrc",
        "dynsrc",
        "xlink:href",
    }
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


@dataclass(frozen=True)
class StartTag:
    offset: int  # where the tag's text starts in the document
    text: str  # the tag as written: `<a href="...">`
    name: str  # lower-cased, as are attribute names
    attrs: list[tuple[str, str | None]]  # values with character references decoded


class _StartTagFinder(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[StartTag] = []
        self._line_starts = [0, *(match.end() for match in re.finditer("\n", source))]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line, column = self.getpos()
        offset = self._line_starts[line - 1] + column
        self.tags.append(StartTag(offset, self.get_starttag_text() or "", tag, attrs))


class UncheckableLink(ValueError):
    """A tag with a URL to remove could not be found where the parser put it: the part is not sent as is."""


def start_tags(source: str) -> list[StartTag]:
    """Every start tag of `source`, in order. Tags in comments or inside scripts are not tags."""
    finder = _StartTagFinder(source)
    finder.feed(source)
    finder.close()
    return finder.tags


def is_at_offset(source: str, tag: StartTag) -> bool:
    return source[tag.offset : tag.offset + len(tag.text)] == tag.text


def unsafe_scheme(url: str) -> str | None:
    """The scheme of `url` when it is not allowed; None for an allowed scheme or a relative URL.

    Browsers ignore tabs and newlines anywhere in a URL and spaces and control characters around it;
    ignoring all of them everywhere can only find more schemes, never fewer."""
    readable = "".join(char for char in url if char > " " and char != "\x7f")
    match = _SCHEME.match(readable)
    if match is None or match.group(1).lower() in ALLOWED_SCHEMES:
        return None
    return match.group(1).lower()


def _unsafe_value(name: str, value: str) -> str | None:
    if name != "srcset":
        return unsafe_scheme(value)
    candidates = (candidate.strip().split(" ")[0] for candidate in value.split(","))
    return next((scheme for candidate in candidates if (scheme := unsafe_scheme(candidate))), None)


def drop_unsafe_urls(source: str) -> tuple[str, list[str]]:
    """`source` without the URL attributes whose scheme is not allowed, and what was dropped, in words
    (`<a href> uses the scheme 'javascript'`)."""
    out: list[str] = []
    dropped: list[str] = []
    position = 0
    for tag in start_tags(source):
        unsafe = {
            name: scheme
            for name, value in tag.attrs
            if name in URL_ATTRIBUTES and value and (scheme := _unsafe_value(name, value))
        }
        if not unsafe:
            continue
        if not is_at_offset(source, tag):  # never seen; refusing beats sending the URL
            raise UncheckableLink(f"<{tag.name}> could not be checked for unsafe URLs")
        dropped += [f"<{tag.name} {name}> uses the scheme {scheme!r}" for name, scheme in unsafe.items()]
        kept = [(name, value) for name, value in tag.attrs if name not in unsafe]
        out += [source[position : tag.offset], _start_tag(tag, kept)]
        position = tag.offset + len(tag.text)
    out.append(source[position:])
    return "".join(out), dropped


def _start_tag(tag: StartTag, attrs: list[tuple[str, str | None]]) -> str:
    written = "".join(
        f" {name}" if value is None else f' {name}="{html.escape(value, quote=True)}"'
        for name, value in attrs
    )
    return f"<{tag.name}{written}{' />' if tag.text.endswith('/>') else '>'}"

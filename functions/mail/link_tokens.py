"""Signed tracking links of marketing email: the open pixel, click redirects and the unsubscribe link.

A token is `<payload>.<mac>`: the payload is base64url JSON naming the link's kind, the email's message id
and, for a click, the link's index and URL; the mac is the first 16 bytes of HMAC-SHA256 over the payload
under a key only the stack knows. A click redirects only to the URL inside a token that verifies, so only
URLs that were in an email we sent can be redirected to: no open redirect, and a changed character
anywhere is refused. docs/email.md describes the format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from leadstream.aws import secrets
from leadstream.errors import BadRequest
from mail.config import get_email_settings

VERSION = 1
MAC_BYTES = 16
MAX_TOKEN_CHARS = 4096
# Binds the mac to this use of the key: a key reused for something else cannot mint link tokens.
MAC_CONTEXT = b"leadstream-email-link/v1|"
# How long a container trusts the key it read from Secrets Manager (a rotated key is picked up after).
KEY_CACHE_SECONDS = 300


class LinkKind(StrEnum):
    OPEN = "o"
    CLICK = "c"
    UNSUBSCRIBE = "u"


PATHS = {LinkKind.OPEN: "open", LinkKind.CLICK: "click", LinkKind.UNSUBSCRIBE: "unsubscribe"}


class InvalidLink(BadRequest):
    """A token that was not signed by us, was changed, or is of another kind."""

    def __init__(self) -> None:
        super().__init__(
            "This email link is not valid: it may have been cut off or changed. "
            "Use the link from the email as it arrived."
        )


@dataclass(frozen=True)
class LinkClaims:
    kind: LinkKind
    message_id: str
    index: int | None = None  # clicks: the link's position among the email's links
    url: str | None = None  # clicks: where the link goes

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"v": VERSION, "k": self.kind.value, "m": self.message_id}
        if self.kind is LinkKind.CLICK:
            body |= {"i": self.index, "u": self.url}
        return body


@dataclass(frozen=True)
class LinkKeys:
    """The signing key and older keys still accepted (so links in sent emails survive a rotation)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @classmethod
    def parse(cls, secret: str) -> LinkKeys:
        """A secret holds one or more keys separated by whitespace or commas; the first one signs."""
        parts = [part.encode() for part in secret.replace(",", " ").split()]
        if not parts or any(len(part) < 16 for part in parts):
            raise ValueError("the email link key secret must hold keys of at least 16 characters")
        return cls(current=parts[0], previous=tuple(parts[1:]))

    @property
    def all(self) -> Sequence[bytes]:
        return (self.current, *self.previous)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    """Strict base64url: only the alphabet, and only the one canonical spelling of the bytes. A lenient
    decoder ignores stray characters and the spare low bits of the last character, so several spellings
    of one MAC would verify; a token is valid in exactly one form."""
    raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64(raw) != text:
        raise ValueError("not the canonical base64url spelling")
    return raw


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, MAC_CONTEXT + payload.encode(), hashlib.sha256).digest()[:MAC_BYTES]


def sign(claims: LinkClaims, keys: LinkKeys) -> str:
    payload = _b64(json.dumps(claims.payload(), separators=(",", ":"), ensure_ascii=False).encode())
    return f"{payload}.{_b64(_mac(keys.current, payload))}"


def verify(token: str, kind: LinkKind, keys: LinkKeys) -> LinkClaims:
    """The claims of a token we signed, of the expected kind; anything else is InvalidLink (a 400)."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidLink()
    payload, mac_text = token.split(".")
    try:
        mac = _unb64(mac_text)
        if not any(hmac.compare_digest(mac, _mac(key, payload)) for key in keys.all):
            raise InvalidLink()
        body = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidLink() from None
    return _claims(body, kind)


def _claims(body: Any, kind: LinkKind) -> LinkClaims:
    """Even a correctly signed payload is checked: a key leak must not become a crash or an odd redirect."""
    if not isinstance(body, dict) or body.get("v") != VERSION or body.get("k") != kind.value:
        raise InvalidLink()
    message_id = body.get("m")
    if not isinstance(message_id, str) or not message_id:
        raise InvalidLink()
    if kind is not LinkKind.CLICK:
        return LinkClaims(kind, message_id)
    index, url = body.get("i"), body.get("u")
    if not isinstance(index, int) or not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise InvalidLink()
    return LinkClaims(kind, message_id, index, url)


@dataclass(frozen=True)
class LinkSigner:
    """Builds the tracking URLs of one email (base URL of the tracking API, signing keys)."""

    base_url: str
    keys: LinkKeys

    def url(self, claims: LinkClaims) -> str:
        return f"{self.base_url.rstrip('/')}/email/{PATHS[claims.kind]}/{quote(sign(claims, self.keys))}"

    def open_url(self, message_id: str) -> str:
        return self.url(LinkClaims(LinkKind.OPEN, message_id))

    def click_url(self, message_id: str, index: int, target: str) -> str:
        return self.url(LinkClaims(LinkKind.CLICK, message_id, index, target))

    def unsubscribe_url(self, message_id: str) -> str:
        return self.url(LinkClaims(LinkKind.UNSUBSCRIBE, message_id))


def link_keys() -> LinkKeys:
    """The stack's link keys, from the Secrets Manager secret the template creates (cached a while)."""
    secret = secrets().get(get_email_settings().require_link_key_secret(), max_age=KEY_CACHE_SECONDS)
    if isinstance(secret, bytes):
        secret = secret.decode()
    if not isinstance(secret, str):
        raise ValueError("the email link key secret must be a string")
    return LinkKeys.parse(secret)

"""Signed email link tokens: what verifies, and every way a changed token is refused."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mail.link_tokens import MAC_BYTES, InvalidLink, LinkClaims, LinkKeys, LinkKind, LinkSigner, sign, verify

KEYS = LinkKeys.parse("unit-test-link-key-0123456789abcdef")
OTHER_KEYS = LinkKeys.parse("another-key-entirely-0123456789abcdef")
CLICK = LinkClaims(LinkKind.CLICK, "msg-1", 2, "https://example.com/pricing?plan=pro&x=1")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_signed_click_verifies_to_its_claims() -> None:
    assert verify(sign(CLICK, KEYS), LinkKind.CLICK, KEYS) == CLICK


@pytest.mark.parametrize("kind", [LinkKind.OPEN, LinkKind.UNSUBSCRIBE])
def test_open_and_unsubscribe_tokens_carry_only_the_message(kind: LinkKind) -> None:
    claims = LinkClaims(kind, "msg-7")
    assert verify(sign(claims, KEYS), kind, KEYS) == claims


def test_a_token_of_another_kind_is_refused() -> None:
    """An open token (harmless) must not work as an unsubscribe token."""
    with pytest.raises(InvalidLink):
        verify(sign(LinkClaims(LinkKind.OPEN, "msg-1"), KEYS), LinkKind.UNSUBSCRIBE, KEYS)


def test_a_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidLink):
        verify(sign(CLICK, OTHER_KEYS), LinkKind.CLICK, KEYS)


def test_a_forged_payload_with_the_old_mac_is_refused() -> None:
    """Swapping in another URL (an open redirect attempt) breaks the mac."""
    token = sign(CLICK, KEYS)
    _, mac = token.split(".")
    forged = {"v": 1, "k": "c", "m": "msg-1", "i": 2, "u": "https://evil.example/phish"}
    forged_payload = _b64(json.dumps(forged, separators=(",", ":")).encode())
    with pytest.raises(InvalidLink):
        verify(f"{forged_payload}.{mac}", LinkKind.CLICK, KEYS)


@pytest.mark.parametrize(
    "token",
    ["", "no-dot", "a.b.c", "x" * 5000, "!!!.???", ".", "e30.", f"e30.{_b64(b'x' * MAC_BYTES)}"],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidLink):
        verify(token, LinkKind.CLICK, KEYS)


@given(position=st.integers(min_value=0), replacement=st.sampled_from("AbZ09-_."))
def test_changing_any_one_character_is_refused(position: int, replacement: str) -> None:
    token = sign(CLICK, KEYS)
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1 :]
    if changed == token:
        return
    with pytest.raises(InvalidLink):
        verify(changed, LinkKind.CLICK, KEYS)


def test_a_correctly_signed_but_unusable_payload_is_refused() -> None:
    """Even with the key, a click token must name an http(s) URL (no javascript: redirect)."""
    payload = _b64(json.dumps({"v": 1, "k": "c", "m": "m", "i": 0, "u": "javascript:alert(1)"}).encode())
    from mail.link_tokens import _mac

    with pytest.raises(InvalidLink):
        verify(f"{payload}.{_b64(_mac(KEYS.current, payload))}", LinkKind.CLICK, KEYS)


def test_links_signed_before_a_key_rotation_still_verify() -> None:
    old = LinkKeys.parse("old-key-0123456789abcdef")
    rotated = LinkKeys.parse("new-key-0123456789abcdef, old-key-0123456789abcdef")
    assert verify(sign(CLICK, old), LinkKind.CLICK, rotated) == CLICK
    assert verify(sign(CLICK, rotated), LinkKind.CLICK, LinkKeys.parse("new-key-0123456789abcdef")) == CLICK


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        LinkKeys.parse("short")


def test_the_signer_builds_urls_under_the_tracking_api() -> None:
    signer = LinkSigner("https://api.example.com/", KEYS)
    url = signer.click_url("msg-1", 0, "https://example.com/")
    assert url.startswith("https://api.example.com/email/click/")
    assert verify(url.rsplit("/", 1)[1], LinkKind.CLICK, KEYS).url == "https://example.com/"
    assert signer.open_url("m").startswith("https://api.example.com/email/open/")
    assert signer.unsubscribe_url("m").startswith("https://api.example.com/email/unsubscribe/")


def test_another_spelling_of_the_same_mac_is_refused() -> None:
    """16 MAC bytes are 22 base64url characters whose last one has 4 spare bits: a lenient decoder reads
    several last characters as the same bytes. Only the canonical spelling verifies."""
    token = sign(CLICK, KEYS)
    payload, mac = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = [
        f"{payload}.{mac[:-1]}{char}"
        for char in alphabet
        if char != mac[-1] and alphabet.index(char) >> 4 == alphabet.index(mac[-1]) >> 4
    ]
    assert len(same_bytes) == 15
    for spelling in same_bytes:
        with pytest.raises(InvalidLink):
            verify(spelling, LinkKind.CLICK, KEYS)
    assert verify(token, LinkKind.CLICK, KEYS) == CLICK

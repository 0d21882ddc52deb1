"""Salted hashes of personal identifiers: what remains of an erased person (docs/customer-data.md, Erasure).

An erased address stays on the suppression list, and an erased person's erasure can be found again when
they are asked for a second time, without the address or the profile id being kept: both are stored as an
HMAC-SHA256 under the stack's privacy key, a Secrets Manager secret (PRIVACY_HASH_KEY_SECRET) that no
person reading the tables holds. Without the key a hash cannot be tested against a guessed address.

The key is never rotated: a new key would make every stored hash unrecognisable (the addresses behind
them would become mailable again). Rotating it means re-hashing nothing, because nothing else is kept.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import Field

from leadstream.aws import secrets
from leadstream.models import Model
from leadstream.settings import ConfigurationError, load

KEY_CACHE_SECONDS = 3600


class PrivacySettings(Model, frozen=True):
    hash_key_secret: str | None = Field(alias="PRIVACY_HASH_KEY_SECRET", default=None, min_length=1)


def _key() -> bytes:
    secret_id = load(PrivacySettings).hash_key_secret
    if not secret_id:
        raise ConfigurationError("invalid Leadstream configuration: PRIVACY_HASH_KEY_SECRET is not set")
    value = secrets().get(secret_id, max_age=KEY_CACHE_SECONDS)
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str) or not value:
        raise ConfigurationError("the privacy hash key secret must be a non-empty string")
    return value.encode()


def subject_hash(kind: str, value: str) -> str:
    """The salted hash of one identifier: `kind` is `email` (the address, lower case and trimmed) or
    `profile` (a profile id)."""
    normalized = value.strip().lower() if kind == "email" else value
    return hmac.new(_key(), f"{kind}:{normalized}".encode(), hashlib.sha256).hexdigest()


def address_hashes(addresses: list[str]) -> dict[str, str]:
    """Each address's salted hash (one secret read for all of them)."""
    key = _key()
    return {
        address: hmac.new(key, f"email:{address.strip().lower()}".encode(), hashlib.sha256).hexdigest()
        for address in addresses
    }

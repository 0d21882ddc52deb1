"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a receiver verifies.

A secret is `whsec_` + base64 of 24 random bytes. A delivery carries `webhook-id` (the event id: the same
on every retry, so receivers de-duplicate by it), `webhook-timestamp` (Unix seconds of this attempt) and
`webhook-signature`: `v1,` + base64 of HMAC-SHA256(secret bytes, "<id>.<timestamp>.<body>"). This is the
specification's scheme, written here (a dozen lines) rather than importing the `standardwebhooks`
package at cold start; tests verify every signature with that package.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header value for one attempt."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "user-agent": "Leadstream-Webhooks/1",
    }

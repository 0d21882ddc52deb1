"""Typed domain errors. Each maps to one HTTP status in one place (leadstream.http)."""

from __future__ import annotations

from typing import Any


class LeadstreamError(Exception):
    """A client mistake: rendered as RFC 9457 problem+json with `status`."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class BadRequest(LeadstreamError):
    status = 400
    title = "Bad request"


class Unauthorized(LeadstreamError):
    status = 401
    title = "Unauthorized"


class Forbidden(LeadstreamError):
    status = 403
    title = "Forbidden"


class NotFound(LeadstreamError):
    status = 404
    title = "Not found"


class Conflict(LeadstreamError):
    """The request clashes with the current state: a record that already exists, a duplicate unique value."""

    status = 409
    title = "Conflict"


class PreconditionFailed(LeadstreamError):
    """`If-Match` named a version that is no longer current: someone changed the record meanwhile."""

    status = 412
    title = "Precondition failed"


class PreconditionRequired(LeadstreamError):
    """A change that must say which version it is based on (`If-Match`) did not."""

    status = 428
    title = "Precondition required"


class PayloadTooLarge(LeadstreamError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(LeadstreamError):
    status = 415
    title = "Unsupported media type"


class InvalidInput(LeadstreamError):
    status = 422
    title = "Invalid input"


class ServiceUnavailable(LeadstreamError):
    """Storage kept throttling after every retry: the client should resend later (messageId keeps it safe)."""

    status = 503
    title = "Service unavailable"
    retry_after_seconds = 5

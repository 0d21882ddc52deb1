"""The HTTP edge every API function shares: one resolver factory, one error-to-status mapping.

Errors are RFC 9457 problem+json. Domain errors carry their status; a pydantic ValidationError that
reaches the edge is a 422 listing each field to fix. Anything else is a bug and stays a 5xx.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from leadstream.errors import InvalidInput, LeadstreamError, NotFound, ServiceUnavailable

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from pydantic import ValidationError

PROBLEM_JSON = "application/problem+json"
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def problem(
    status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any
) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body))


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as {field, message}: what a client needs to fix, without echoing its input."""
    return [
        {"field": ".".join(str(part) for part in err["loc"]) or "(body)", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def problem_for(exc: LeadstreamError) -> Response[str]:
    response = problem(exc.status, exc.title, exc.detail, errors=exc.errors)
    if isinstance(exc, ServiceUnavailable):
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def create_resolver(*, allowed_origins: tuple[str, ...] = ()) -> APIGatewayHttpResolver:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig
    from pydantic import ValidationError

    cors = None
    if allowed_origins:
        first, *rest = allowed_origins
        cors = CORSConfig(
            allow_origin=first,
            extra_origins=rest or None,
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Content-Encoding",
                "If-Match",
                "Idempotency-Key",
            ],
            max_age=600,
        )
    app = APIGatewayHttpResolver(cors=cors)

    app.exception_handler(LeadstreamError)(problem_for)

    from botocore.exceptions import ClientError

    @app.exception_handler(ClientError)
    def _aws_error(exc: ClientError) -> Response[str]:
        # Throttling that outlasted the client's retries is load, not a bug: ask the client to come back.
        if exc.response.get("Error", {}).get("Code") not in THROTTLING_CODES:
            raise exc
        return problem_for(ServiceUnavailable("Storage is busy; retry the request shortly."))

    @app.exception_handler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response[str]:
        return problem(
            InvalidInput.status,
            InvalidInput.title,
            "The request does not match the expected shape; see errors.",
            errors=validation_errors(exc),
        )

    @app.not_found
    def _not_found(_exc: Exception) -> Response[str]:
        path = app.current_event.path
        return problem(
            NotFound.status, NotFound.title, f"No route for {app.current_event.http_method} {path}."
        )

    return app

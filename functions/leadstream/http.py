"""The HTTP edge every API function shares: one resolver factory, one error-to-status mapping.

Errors are RFC 9457 problem+json. Domain errors carry their status; a pydantic ValidationError that
reaches the edge is a 422 listing each field to fix. Anything else is a bug and stays a 5xx.

Powertools' event handler (about a tenth of a second) is imported inside the functions that build or
answer through a resolver: the stream and queue functions use this module's problem mapping but never
serve HTTP, and do not pay for it at a cold start.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from leadstream.errors import BadRequest, InvalidInput, LeadstreamError, NotFound, ServiceUnavailable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
    from pydantic import ValidationError

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
# The name every route gives its query model's parameter (`params: Annotated[Model, Query()]`).
QUERY_MODEL_PARAMETER = "params"
# The request headers every API's preflight allows: credentials, bodies, versions and idempotency keys.
API_REQUEST_HEADERS = ("Authorization", "Content-Type", "Content-Encoding", "If-Match", "Idempotency-Key")
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


def cors_config(allowed_origins: tuple[str, ...], extra_headers: Sequence[str] = ()) -> CORSConfig | None:
    """The CORS answer for browsers calling from `allowed_origins` (None: no CORS headers at all).
    `extra_headers` are request headers one function's clients send beyond API_REQUEST_HEADERS."""
    from aws_lambda_powertools.event_handler import CORSConfig

    if not allowed_origins:
        return None
    first, *rest = allowed_origins
    return CORSConfig(
        allow_origin=first,
        extra_origins=rest or None,
        allow_headers=[*API_REQUEST_HEADERS, *extra_headers],
        expose_headers=["ETag", "Location"],
        max_age=600,
    )


def request_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Powertools' request validation errors as {field, message}; `field` says where (body fields bare,
    others prefixed: "query.limit", "header.if-match")."""
    found = []
    for err in errors:
        where, *path = [str(part) for part in err.get("loc", ())] or ["body"]
        if where == "query" and path[:1] == [QUERY_MODEL_PARAMETER]:
            path = path[1:]  # a route's query model is one parameter; the client sent its fields
        field = ".".join(path) if where == "body" else ".".join([where, *path])
        found.append({"field": field or "(body)", "message": err.get("msg") or err.get("type", "invalid")})
    return found


def create_resolver(
    *,
    allowed_origins: tuple[str, ...] = (),
    cors_headers: Sequence[str] = (),
    enable_validation: bool = False,
) -> APIGatewayHttpResolver:
    """The resolver every API function uses; its preflights allow API_REQUEST_HEADERS plus `cors_headers`.
    With `enable_validation`, routes declare their input and output with pydantic models (the OpenAPI
    document is generated from them): a request that does not match is a 422 problem listing each field
    to fix; a response that does not match is a bug (500)."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from pydantic import ValidationError

    app = APIGatewayHttpResolver(
        cors=cors_config(allowed_origins, cors_headers),
        enable_validation=enable_validation,
        response_validation_error_http_code=500 if enable_validation else None,
    )
    if enable_validation:
        _map_validation_errors(app)

    app.exception_handler(LeadstreamError)(problem_for)

    @app.exception_handler(ClientError)
    def _aws_error(exc: ClientError) -> Response[str]:
        # Throttling that outlasted the client's retries is load, not a bug: ask the client to come back.
        if exc.response.get("Error", {}).get("Code") not in THROTTLING_CODES:
            return _bug(app, exc)
        return problem_for(ServiceUnavailable("Storage is busy; retry the request shortly."))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        return _bug(app, exc)

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(exc: UnicodeDecodeError) -> Response[str]:
        # The resolver decodes a base64 body (API Gateway's form for bytes that are not text) as UTF-8.
        return problem(
            BadRequest.status, BadRequest.title, "The request body is not UTF-8 text: send JSON in UTF-8."
        )

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


def _bug(app: APIGatewayHttpResolver, exc: Exception) -> Response[str]:
    """Anything no handler maps is a bug: logged with its traceback, answered as a 500 problem that
    carries the request id (the correlation id of every log line of this request) for the bug report."""
    from aws_lambda_powertools import Logger

    request_id = app.current_event.request_context.request_id
    Logger().exception("Unhandled error", correlation_id=request_id, error=type(exc).__name__)
    return problem(
        500,
        "Internal error",
        "The server failed on this request; this is a bug. Quote the correlation id when you report it.",
        correlationId=request_id,
    )


def _map_validation_errors(app: APIGatewayHttpResolver) -> None:
    from aws_lambda_powertools.event_handler.openapi.exceptions import (
        RequestValidationError,
        ResponseValidationError,
    )

    @app.exception_handler(RequestValidationError)
    def _request_invalid(exc: RequestValidationError) -> Response[str]:
        return problem(
            InvalidInput.status,
            InvalidInput.title,
            "The request does not match the expected shape; see errors.",
            errors=request_validation_errors(exc.errors()),
        )

    @app.exception_handler(ResponseValidationError)
    def _response_invalid(exc: ResponseValidationError) -> Response[str]:
        from aws_lambda_powertools import Logger

        request_id = app.current_event.request_context.request_id
        Logger().error(
            "Response does not match its documented schema", errors=exc.errors(), correlation_id=request_id
        )
        return problem(
            500,
            "Internal error",
            "The server built an invalid response; this is a bug. Quote the correlation id to report it.",
            correlationId=request_id,
        )

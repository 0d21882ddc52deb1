"""The HTTP framework of every authenticated API (the CRM under /crm, marketing and email under /marketing):
routes declared with role policies, validated requests and responses, problem+json, versions (ETag and
If-Match), Idempotency-Key on creates, cursor pagination, and the OpenAPI document built from it all.

A domain declares its routes in `<domain>/routes.py` with `register(api)`:

    @api.route("GET", "/marketing/segments/<segment_id>", policy=MARKETING, summary="...", tag="segments",
               problems=[404], headers=ETAG_HEADER)
    def get_segment(segment_id: SegmentIdPath) -> Response[SegmentDocument]: ...

Powertools validates the path, query, headers and body against the signature's types (a mismatch is a
422 listing each field) and the response against the return type (a mismatch is a bug: 500). The role
policy is checked before anything else, so a 403 never depends on the body: once before the resolver runs
(`Api.denial`), and again inside each route, so a route can never be reached without its check.
docs/api.md explains the conventions.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel, ConfigDict, Field, create_model

from leadstream import idempotency
from leadstream.auth import Principal, Role, principal_from_claims
from leadstream.errors import InvalidInput, LeadstreamError, PreconditionFailed, PreconditionRequired
from leadstream.http import JSON, PROBLEM_JSON, problem_for
from leadstream.models import Model
from leadstream.numbers import StorableInt
from leadstream.pagination import DEFAULT_LIMIT, MAX_LIMIT

if TYPE_CHECKING:
    pass

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1024,
        description="The ETag of the version you read. Required: without it the change is refused (428); "
        "if it changed since, it is refused too (412) and nothing changes. `*` matches any version.",
    ),
]
ActionIfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1024,
        description="Optional on an action (its own state machine refuses a repeat): when sent, the ETag "
        "of the version you read; if it changed since, the action is refused (412) and nothing changes. "
        "`*` matches any version.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=idempotency.KEY_PATTERN,
        description="Any unique string (a UUID). A retry with the same key returns the first response "
        "and creates nothing; the same key with a different body is refused (422).",
    ),
]

PROBLEM_DESCRIPTIONS = {
    400: "Bad request (a malformed cursor or parameter)",
    401: "No valid bearer token (answered by the API's JWT authorizer)",
    403: "The caller's role may not use this route",
    404: "No such resource (or not one the caller may see)",
    409: "Conflicts with the current state (duplicate unique value, id taken, state does not allow it)",
    412: "If-Match does not match the current version: someone changed it; nothing changed",
    413: "Too large: the message says the limit",
    422: "Invalid input; `errors` lists each field to fix",
    428: "If-Match is required on this route",
    503: "Storage is busy; retry after Retry-After seconds",
}
ALWAYS = (401, 403, 422, 503)
ETAG_HEADER: dict[str, Any] = {
    "ETag": {"description": "the version, for If-Match", "schema": {"type": "string"}}
}
CREATED_HEADERS: dict[str, Any] = {**ETAG_HEADER, "Location": {"description": "the new resource's URL"}}


class GatewayMessage(Model):
    """API Gateway's own answer (no token, or a token it does not accept)."""

    message: str


class ProblemField(Model):
    field: str
    message: str


class Problem(Model):
    """RFC 9457 problem details: what went wrong and, for invalid input, each field to fix."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemField] | None = None
    correlation_id: str | None = Field(
        default=None, alias="correlationId", description="on a 500: the request id to quote in a bug report"
    )


class ListParams(Model):
    """Query parameters of every list: a page size and the cursor of the page to read (a subclass adds
    filters)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    limit: StorableInt = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="page size")
    cursor: str | None = Field(
        default=None, max_length=2048, description="`nextCursor` of the previous page; omit for the first"
    )


class _Page(Model):
    model_config = ConfigDict(populate_by_name=True)


def page_model(item: type[BaseModel], name: str, what: str) -> type[BaseModel]:
    """The model of one page of a list: `items` and `nextCursor` (null on the last page)."""
    return create_model(
        name,
        __base__=_Page,
        __doc__=f"One page of {what}; follow `nextCursor` until it is null.",
        items=(list[item], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, Field(default=None, alias="nextCursor")),
    )


# --- routes with policies ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _RoutePolicy:
    method: str
    pattern: re.Pattern[str]
    policy: frozenset[Role]


class Api:
    """An API function's resolver and the role policy of each of its routes."""

    def __init__(self, app: APIGatewayHttpResolver, cors: CORSConfig | None = None) -> None:
        self.app = app
        self._cors = cors
        self._policies: list[_RoutePolicy] = []

    def route(
        self,
        method: str,
        rule: str,
        *,
        policy: frozenset[Role],
        summary: str,
        tag: str,
        status_code: int = 200,
        problems: Iterable[int] = (),
        headers: Mapping[str, Any] | None = None,
        operation_id: str | None = None,
        content: Mapping[str, Any] | None = None,
        other_responses: Mapping[int, Any] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a route whose callers need one of the roles in `policy`. `problems` lists the error
        statuses it can answer beyond 401, 403, 422 and 503 (they go into the OpenAPI document).
        `content` describes a success answer that is not the return type's JSON (media type -> schema or
        model), `other_responses` further answers (a 202 ...)."""

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            self._policies.append(_RoutePolicy(method, _rule_pattern(rule), policy))
            self.app.route(
                rule,
                method,
                summary=summary,
                tags=[tag],
                status_code=status_code,
                operation_id=operation_id or handler.__name__,
                responses={
                    **_responses(status_code, problems, headers, content),
                    **(other_responses or {}),
                },
            )(self._guarded(handler, policy))
            return handler

        return register

    def principal(self) -> Principal:
        claims = self.app.current_event.request_context.authorizer.jwt_claim
        return principal_from_claims(claims)

    def context(self) -> Any:
        return self.app.lambda_context

    def refuse_unknown_parameters(self, model: type[BaseModel]) -> None:
        """422 for a query parameter `model` does not define: a misspelt filter must not silently widen a
        list (the resolver itself ignores parameters it does not know)."""
        known = {info.alias or name for name, info in model.model_fields.items()}
        unknown = sorted(set(self.app.current_event.query_string_parameters or {}) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown query parameter {', '.join(unknown)}; this route takes {', '.join(sorted(known))}.",
                errors=[{"field": f"query.{name}", "message": "unknown parameter"} for name in unknown],
            )

    def denial(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """The 401/403 answer for a request its route's policy refuses, before the resolver validates
        anything; None when the request may proceed (or matches no route: the resolver answers 404)."""
        http = event.get("requestContext", {}).get("http", {})
        method, path = str(http.get("method", "")).upper(), str(http.get("path") or event.get("rawPath", ""))
        stage = str(event.get("requestContext", {}).get("stage") or "$default")
        if stage != "$default" and path.startswith(f"/{stage}/"):
            path = path.removeprefix(f"/{stage}")  # a named stage prefixes the path, as the resolver knows
        policy = next(
            (
                rule.policy
                for rule in self._policies
                if rule.method == method and rule.pattern.fullmatch(path)
            ),
            None,
        )
        if policy is None:
            return None
        claims = ((event.get("requestContext", {}).get("authorizer") or {}).get("jwt") or {}).get("claims")
        try:
            principal_from_claims(claims).require(policy)
        except LeadstreamError as refused:
            return self._problem_event(refused, event)
        return None

    def _problem_event(self, error: LeadstreamError, event: Mapping[str, Any]) -> dict[str, Any]:
        response = problem_for(error)
        origin = {name.lower(): value for name, value in (event.get("headers") or {}).items()}.get("origin")
        headers = {"Content-Type": PROBLEM_JSON, **(self._cors.to_dict(origin) if self._cors else {})}
        return {"statusCode": response.status_code, "headers": headers, "body": response.body}

    def _guarded(self, handler: Callable[..., Any], policy: frozenset[Role]) -> Callable[..., Any]:
        def guarded(**arguments: Any) -> Any:
            self.principal().require(policy)
            return handler(**arguments)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        guarded.__signature__ = inspect.signature(handler, eval_str=True)  # type: ignore[attr-defined]
        return guarded


def _rule_pattern(rule: str) -> re.Pattern[str]:
    """The resolver's rule ("/crm/deals/<record_id>") as a regex over request paths."""
    return re.compile(re.sub(r"<\w+>", "[^/]+", re.escape(rule).replace(r"\<", "<").replace(r"\>", ">")))


def _responses(
    status_code: int,
    problems: Iterable[int],
    headers: Mapping[str, Any] | None,
    content: Mapping[str, Any] | None = None,
) -> dict[int, Any]:
    success: dict[str, Any] = {"description": "Success"}
    if headers:
        success["headers"] = dict(headers)
    if content:
        success["content"] = dict(content)
    responses: dict[int, Any] = {status_code: success}
    if status_code == 204:
        success["content"] = {}
    for status in sorted({*ALWAYS, *problems}):
        if status == 401:
            responses[status] = {
                "description": PROBLEM_DESCRIPTIONS[status],
                "content": {JSON: {"model": GatewayMessage}},
            }
        else:
            responses[status] = {
                "description": PROBLEM_DESCRIPTIONS[status],
                "content": {PROBLEM_JSON: {"model": Problem}},
            }
    return responses


# --- ETags and If-Match ------------------------------------------------------------------------------
def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, current_version: int) -> None:
    """428 without If-Match; 412 unless it names the current version (or is `*`). Strong comparison, as
    RFC 9110 requires for If-Match: a weak tag (W/"3") never matches."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "Send If-Match with the ETag of the version you read (every GET returns it), so that a change "
            "someone made meanwhile is never overwritten."
        )
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags or etag(current_version) in tags or str(current_version) in tags:
        return
    raise PreconditionFailed(
        f"If-Match {if_match.strip()!r} is not the current version ({etag(current_version)}): the record "
        "changed since you read it. Read it again, apply your change, and send the new ETag."
    )


def action_precondition(if_match: str | None) -> Callable[[int], None] | None:
    """The If-Match of an action (POST .../send, .../publish ...) as a check of the current version, or
    None when none was sent: actions check If-Match only when sent, since their own state machine
    refuses a repeat."""
    return None if if_match is None else partial(check_if_match, if_match)


def versioned_response(
    body: BaseModel, version: int, *, status: int = 200, location: str | None = None
) -> Response[Any]:
    """A versioned resource: its ETag, and for a 201 where it now lives."""
    headers = {"ETag": etag(version)}
    if location:
        headers["Location"] = location
    return Response(status_code=status, content_type=JSON, body=body, headers=headers)


# --- creates -------------------------------------------------------------------------------------------
def create_once(
    api: Api,
    *,
    resource: str,
    body: BaseModel,
    idempotency_key: str | None,
    create: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    """`create(new_id)` and the stored document it returns; with an Idempotency-Key, once per (caller,
    resource, key): a retry gets the first document back and creates nothing (leadstream.idempotency)."""
    if idempotency_key is None:
        return create(str(uuid.uuid4()))
    return idempotency.create_with_key(
        scope=f"{api.principal().user_id}:{resource}",
        key=idempotency_key,
        payload=body.model_dump(mode="json", by_alias=True),
        create=create,
        context=api.context(),
    )

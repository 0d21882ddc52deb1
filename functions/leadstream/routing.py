"""What every /marketing route reads first, in one place for the marketing API (functions/marketing) and
the email routers (handlers/email_api.py, segments_api.py, campaigns_api.py, journeys/routes.py): the caller
(marketing policy), the JSON body, the query, `?version=`, If-Match, and the response for a stored
document (ETag when versioned, Location when created)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.event_handler import Response

from leadstream.auth import MARKETING, Principal, principal_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

JSON = "application/json"


class _Routes(Protocol):
    @property
    def current_event(self) -> APIGatewayProxyEventV2: ...


class MarketingRequest:
    """The request a router is serving right now (Powertools keeps it on the router)."""

    def __init__(self, routes: _Routes) -> None:
        self._routes = routes

    @property
    def event(self) -> APIGatewayProxyEventV2:
        return self._routes.current_event

    def caller(self) -> Principal:
        """The signed-in user; 403 unless they have the marketing or admin role."""
        return principal_of(self.event.raw_event).require(MARKETING)

    def body(self) -> Any:
        """The JSON body; an empty body is an empty object (validation then names what is missing)."""
        from leadstream.errors import BadRequest

        raw = self.event.decoded_body or ""
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise BadRequest("The body is not JSON; send a JSON object.") from None

    def query(self) -> dict[str, str]:
        return dict(self.event.query_string_parameters or {})

    def if_match(self) -> str | None:
        return self.event.headers.get("if-match")

    def version(self) -> int | None:
        """`?version=n`: a version number, or None for the latest."""
        from leadstream.errors import BadRequest

        raw = self.query().get("version")
        if raw is None:
            return None
        if not raw.isdigit() or int(raw) < 1:
            raise BadRequest("`version` must be a version number (1, 2, ...).")
        return int(raw)


def document_response(
    document: dict[str, Any], *, etag: str | None = None, status: int = 200, location: str | None = None
) -> Response[str]:
    """A stored document: its ETag when it is versioned, and for a 201 where it now lives."""
    headers = {"ETag": etag} if etag else {}
    if status == 201 and location:
        headers["Location"] = location
    return Response(status, JSON, json.dumps(document), headers=headers)


def no_content() -> Response[str]:
    return Response(204, JSON, "")

"""Call the template's HTTP routes in-process, without a socket: what handler tests and benchmarks use.

A request goes through the same route table, event shape and Lambda runtime as on the local stack's HTTP
server, so a test exercises exactly what API Gateway would deliver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadstream_local.lambda_events import http_api_event, http_api_response
from leadstream_local.routes import Router
from leadstream_local.runtime import LambdaFunction
from leadstream_local.template import StackTemplate


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


Call = Callable[..., Reply]


class InProcessApi:
    """The HTTP API of a template whose tables already exist (moto), invoked in this process."""

    def __init__(self, template: StackTemplate) -> None:
        self._router = Router(template.http_routes())
        self._functions = {spec.logical_id: LambdaFunction(spec) for spec in template.functions()}

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | Mapping[str, Any] = b"",
        query: str = "",
        authorizer: Mapping[str, Any] | None = None,
    ) -> Reply:
        match = self._router.match(method, path)
        if match is None:
            raise LookupError(f"template.yaml declares no route for {method} {path}")
        event = http_api_event(
            method=method,
            path=path,
            route_key=match.route_key,
            path_parameters=match.path_parameters,
            headers=list(headers),
            body=json.dumps(body).encode() if isinstance(body, Mapping) else body,
            query=query,
            authorizer=authorizer,
        )
        result = self._functions[match.route.function].invoke(event)
        status, reply_headers, reply_body = http_api_response(result)
        return Reply(status, {name.lower(): value for name, value in reply_headers}, reply_body)

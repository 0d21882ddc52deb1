"""Call the template's HTTP routes in-process, without a socket: what handler tests and benchmarks use.

A request goes through the same gateway as on the local stack's HTTP server (route table, JWT
authorizer, payload-2.0 event, Lambda runtime), so a test exercises exactly what API Gateway would deliver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadstream_local.runtime import LambdaFunction
from leadstream_local.server import ApiGateway
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
    """The HTTP API of a template whose resources already exist in moto, invoked in this process."""

    def __init__(self, template: StackTemplate) -> None:
        functions = {spec.logical_id: LambdaFunction(spec) for spec in template.functions()}
        self._gateway = ApiGateway(template.http_routes(), functions, template.jwt_authorizers())

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | Mapping[str, Any] | list[Any] = b"",
        query: str = "",
        token: str | None = None,
    ) -> Reply:
        sent = list(headers)
        if token is not None:
            sent.append(("authorization", f"Bearer {token}"))
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if (
            raw
            and not isinstance(body, bytes)
            and not any(name.lower() == "content-type" for name, _ in sent)
        ):
            sent.append(("content-type", "application/json"))
        target = f"{path}?{query}" if query else path
        status, reply_headers, payload = self._gateway.handle(method, target, sent, raw)
        return Reply(status, {name.lower(): value for name, value in reply_headers}, payload)

"""A signed-in client of the CRM API for tests (in-process, over the template's routes and authorizer)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from leadstream_local.inprocess import Call, Reply


@dataclass
class Crm:
    """Calls the CRM API as one signed-in user. Methods return the Reply; `created` etc. check the status."""

    call_api: Call
    token: str

    def request(
        self,
        method: str,
        path: str,
        body: Any = b"",
        *,
        query: str = "",
        headers: Iterable[tuple[str, str]] = (),
    ) -> Reply:
        return self.call_api(method, path, body=body, query=query, headers=list(headers), token=self.token)

    def get(self, path: str, *, query: str = "") -> Reply:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any, *, key: str | None = None, if_match: str | None = None) -> Reply:
        headers = [("idempotency-key", key)] if key else []
        if if_match is not None:
            headers.append(("if-match", if_match))
        return self.request("POST", path, body, headers=headers)

    def patch(self, path: str, body: Any, *, if_match: str | None) -> Reply:
        headers = [("if-match", if_match)] if if_match is not None else []
        return self.request("PATCH", path, body, headers=headers)

    def delete(self, path: str, *, if_match: str | None) -> Reply:
        headers = [("if-match", if_match)] if if_match is not None else []
        return self.request("DELETE", path, headers=headers)

    def created(self, path: str, body: Any) -> dict[str, Any]:
        reply = self.post(path, body)
        assert reply.status == 201, reply.body
        document: dict[str, Any] = reply.json()
        return document

    def ok(self, reply: Reply) -> Any:
        assert reply.status == 200, reply.body
        return reply.json()

"""The CRM API's OpenAPI 3.1 document, generated from the routes' signatures and models.

Served at GET /crm/openapi.json to any signed-in user (the stack's copy is always the deployed code's);
committed as docs/openapi.json for people and client generators (`make openapi`, which runs
`python -m handlers.openapi docs/openapi.json`; a test fails when the committed copy is stale).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from leadstream.auth import Role
from leadstream.caches import container_cache

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from crm.api.framework import CrmApi

TITLE = "Leadstream CRM API"
VERSION = "1.0"
DESCRIPTION = (
    "The sales CRM: accounts, contacts, leads, deals, pipelines, forecast, activities, notes and more. "
    "Every request needs a bearer token of the Leadstream user pool; errors are RFC 9457 problem+json. "
    "Conventions (ETags and If-Match, Idempotency-Key, cursors, filters): docs/crm-api.md."
)
EVERYONE = frozenset(Role)


def document(app: APIGatewayHttpResolver) -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    raw = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={"bearer": HTTPBearer(bearerFormat="JWT")},
        security=[{"bearer": []}],
    )
    generated: dict[str, Any] = json.loads(raw)
    shared: dict[str, Any] = {}
    for path in generated.get("paths", {}).values():
        for operation in path.values():
            _share_error_responses(operation.get("responses", {}), shared)
    generated.setdefault("components", {})["responses"] = dict(sorted(shared.items()))
    return generated


def _share_error_responses(responses: dict[str, Any], shared: dict[str, Any]) -> None:
    """Every route answers its errors alike: define each error response once (components.responses) and
    refer to it. The resolver documents its response-validation 500 as plain JSON; ours is problem+json."""
    from crm.api.framework import JSON, PROBLEM_DESCRIPTIONS

    for status in list(responses):
        code = int(status)
        if code == 500:
            description = "A bug: the server built a response that breaks this document"
        elif code in PROBLEM_DESCRIPTIONS:
            description = PROBLEM_DESCRIPTIONS[code]
        else:
            continue
        name = f"Status{code}"
        media = JSON if code == 401 else "application/problem+json"
        schema = "GatewayMessage" if code == 401 else "Problem"
        shared[name] = {
            "description": description,
            "content": {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
        responses[status] = {"$ref": f"#/components/responses/{name}"}


def text(app: APIGatewayHttpResolver) -> str:
    return json.dumps(document(app), indent=2, ensure_ascii=False) + "\n"


def register(api: CrmApi) -> None:
    @container_cache
    def served() -> dict[str, Any]:
        return document(api.app)

    @api.route(
        "GET",
        "/crm/openapi.json",
        policy=EVERYONE,
        summary="This API's OpenAPI 3.1 document",
        tag="meta",
    )
    def openapi_document() -> dict[str, Any]:
        return served()

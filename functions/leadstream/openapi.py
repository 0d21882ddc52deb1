"""The OpenAPI 3.1 document of the authenticated API, generated from the route declarations of every API
function (their resolvers), merged into one document. Built only when generating it (`make openapi`, the
drift test): the functions serve the committed copy, so they never pay for building it at a cold start.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from leadstream.api import PROBLEM_DESCRIPTIONS
from leadstream.http import JSON, PROBLEM_JSON

TITLE = "Leadstream API"
VERSION = "2.0"
DESCRIPTION = (
    "The authenticated API of Leadstream: the sales CRM under /crm (accounts, contacts, leads, deals, "
    "pipelines, forecast, activities, commerce) and marketing under /marketing (profiles, scoring "
    "configuration, email templates and suppressions, segments, campaigns, journeys). Every request needs "
    "a bearer token of the Leadstream user pool; errors are RFC 9457 problem+json. Conventions (roles, "
    "ETags and If-Match, Idempotency-Key, cursors, filters): docs/api.md."
)


def document(apps: Iterable[APIGatewayHttpResolver]) -> dict[str, Any]:
    """One document for the routes of all `apps`; a path or a schema name declared differently by two
    of them is a bug of ours, raised here (so the drift test fails) rather than papered over."""
    merged: dict[str, Any] = {}
    for app in apps:
        part: dict[str, Any] = json.loads(
            app.get_openapi_json_schema(
                title=TITLE,
                version=VERSION,
                description=DESCRIPTION,
                security_schemes={"bearer": HTTPBearer(bearerFormat="JWT")},
                security=[{"bearer": []}],
            )
        )
        if not merged:
            merged = part
            continue
        _merge(merged.setdefault("paths", {}), part.get("paths", {}), "path")
        schemas = merged.setdefault("components", {}).setdefault("schemas", {})
        _merge(schemas, part.get("components", {}).get("schemas", {}), "schema")
    shared: dict[str, Any] = {}
    for path in merged.get("paths", {}).values():
        for operation in path.values():
            _share_error_responses(operation.get("responses", {}), shared)
    merged.setdefault("components", {})["responses"] = dict(sorted(shared.items()))
    merged["paths"] = dict(sorted(merged.get("paths", {}).items()))
    merged["components"]["schemas"] = dict(sorted(merged["components"].get("schemas", {}).items()))
    return merged


def text(apps: Iterable[APIGatewayHttpResolver]) -> str:
    return json.dumps(document(apps), indent=2, ensure_ascii=False) + "\n"


def _merge(into: dict[str, Any], part: dict[str, Any], what: str) -> None:
    for name, value in part.items():
        if name in into and into[name] != value:
            raise ValueError(f"two API functions declare the {what} {name!r} differently")
        into[name] = value


def _share_error_responses(responses: dict[str, Any], shared: dict[str, Any]) -> None:
    """Every route answers its errors alike: define each error response once (components.responses) and
    refer to it. The resolver documents its response-validation 500 as plain JSON; ours is problem+json."""
    for status in list(responses):
        code = int(status)
        if code == 500:
            description = "A bug: the server built a response that breaks this document"
        elif code in PROBLEM_DESCRIPTIONS:
            description = PROBLEM_DESCRIPTIONS[code]
        else:
            continue
        name = f"Status{code}"
        media = JSON if code == 401 else PROBLEM_JSON
        schema = "GatewayMessage" if code == 401 else "Problem"
        shared[name] = {
            "description": description,
            "content": {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
        responses[status] = {"$ref": f"#/components/responses/{name}"}

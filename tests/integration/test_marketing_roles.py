"""Who may call which /marketing route (the marketing API and the email API): every route, every role, and
no token at all.

ROUTES is the expected policy of every route, written out here on purpose (not read from the code), so a
policy changed by mistake fails a test. A route missing from ROUTES fails `test_every_route_is_in_the_table`
(the routes served are read from the OpenAPI document the code generates): add its row when you add a
route. Forbidden roles get 403 before the request is even validated, so the calls need no valid body or
existing document; allowed roles may get any answer but 401, 403 or a 5xx (a bug).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from leadstream_local.inprocess import Call

SALES, MARKETING, ADMIN = "sales", "marketing", "admin"
ROLES = (SALES, MARKETING, ADMIN)
MARKETERS = frozenset({MARKETING, ADMIN})  # leadstream.auth.MARKETING
EVERYONE = frozenset(ROLES)
ADMINS = frozenset({ADMIN})  # leadstream.auth.ADMIN_ONLY


def _crud(base: str, one: str) -> dict[str, frozenset[str]]:
    """A collection's list and create, and one document's get, replace and delete: all for marketers."""
    return {
        f"GET {base}": MARKETERS,
        f"POST {base}": MARKETERS,
        f"GET {one}": MARKETERS,
        f"PUT {one}": MARKETERS,
        f"DELETE {one}": MARKETERS,
    }


ROUTES: dict[str, frozenset[str]] = {
    "GET /marketing/openapi.json": EVERYONE,
    # the marketing API: profiles and scoring configuration
    "GET /marketing/profiles": MARKETERS,
    "GET /marketing/profiles/{profile_id}": MARKETERS,
    "GET /marketing/profiles/{profile_id}/events": MARKETERS,
    "PUT /marketing/profiles/{profile_id}/stage": MARKETERS,  # moving back needs admin: a 409, not a policy
    **_crud("/marketing/scoring-rules", "/marketing/scoring-rules/{rule_id}"),
    **_crud("/marketing/assignment-rules", "/marketing/assignment-rules/{rule_id}"),
    "GET /marketing/scoring-settings": MARKETERS,
    "PUT /marketing/scoring-settings": MARKETERS,
    # the email API: templates, suppressions, segments, campaigns, journeys
    **_crud("/marketing/templates", "/marketing/templates/{template_id}"),
    "POST /marketing/templates/{template_id}/preview": MARKETERS,
    "GET /marketing/suppressions/{email}": MARKETERS,
    "PUT /marketing/suppressions/{email}": MARKETERS,
    "DELETE /marketing/suppressions/{email}": MARKETERS,
    **_crud("/marketing/segments", "/marketing/segments/{segment_id}"),
    "GET /marketing/segments/{segment_id}/members": MARKETERS,
    "GET /marketing/segments/{segment_id}/count": MARKETERS,
    **_crud("/marketing/campaigns", "/marketing/campaigns/{campaign_id}"),
    "POST /marketing/campaigns/{campaign_id}/send": MARKETERS,
    "POST /marketing/campaigns/{campaign_id}/cancel": MARKETERS,
    "GET /marketing/campaigns/{campaign_id}/report": MARKETERS,
    **_crud("/marketing/journeys", "/marketing/journeys/{journey_id}"),
    "POST /marketing/journeys/{journey_id}/publish": MARKETERS,
    "POST /marketing/journeys/{journey_id}/pause": MARKETERS,
    "GET /marketing/journeys/{journey_id}/runs": MARKETERS,
    "GET /marketing/journeys/{journey_id}/report": MARKETERS,
    # the website API: forms, pages, assets, slots, pop-ups
    **{
        f"{method} {path}": MARKETERS
        for base, one in (
            ("/marketing/forms", "/marketing/forms/{form_id}"),
            ("/marketing/pages", "/marketing/pages/{slug}"),
            ("/marketing/assets", "/marketing/assets/{asset_id}"),
            ("/marketing/slots", "/marketing/slots/{slot_id}"),
            ("/marketing/popups", "/marketing/popups/{popup_id}"),
        )
        for method, path in (("GET", base), ("POST", base), ("GET", one), ("PUT", one))
    },
    "GET /marketing/pages/{slug}/versions/{version}": MARKETERS,
    "POST /marketing/pages/{slug}/publish": MARKETERS,
    "POST /marketing/pages/{slug}/unpublish": MARKETERS,
    "GET /marketing/pages/{slug}/test": MARKETERS,
    "POST /marketing/assets/{asset_id}/files": MARKETERS,
    "POST /marketing/assets/{asset_id}/publish": MARKETERS,
    "POST /marketing/assets/{asset_id}/archive": MARKETERS,
    "POST /marketing/assets/{asset_id}/draft": MARKETERS,
    "GET /marketing/popups/{popup_id}/report": MARKETERS,
    # webhooks (integrations): admins only
    "GET /marketing/webhooks": ADMINS,
    "POST /marketing/webhooks": ADMINS,
    "GET /marketing/webhooks/{subscription_id}": ADMINS,
    "PATCH /marketing/webhooks/{subscription_id}": ADMINS,
    "DELETE /marketing/webhooks/{subscription_id}": ADMINS,
    "GET /marketing/webhooks/{subscription_id}/deliveries": ADMINS,
    "POST /marketing/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver": ADMINS,
    "GET /marketing/webhooks-catalog": ADMINS,
    # the reports over the lake and marketing spend
    "GET /marketing/reports": MARKETERS,
    "GET /marketing/reports/funnel": MARKETERS,
    "GET /marketing/reports/attribution": MARKETERS,
    "GET /marketing/reports/acquisition": MARKETERS,
    "GET /marketing/reports/web": MARKETERS,
    "GET /marketing/reports/performance": MARKETERS,
    "GET /marketing/reports/runs/{run_id}": MARKETERS,
    "GET /marketing/spend": MARKETERS,
    "GET /marketing/spend/{month}/{channel}": MARKETERS,
    "PUT /marketing/spend/{month}/{channel}": MARKETERS,
    # the customer data API: imports (kind accounts needs admin: a 403 from the route, not a policy)
    "GET /marketing/imports": MARKETERS,
    "POST /marketing/imports": MARKETERS,
    "GET /marketing/imports/{import_id}": MARKETERS,
    "POST /marketing/imports/{import_id}/start": MARKETERS,
    "POST /marketing/privacy/exports": MARKETERS,
    # consent and subscription topics
    "GET /marketing/profiles/{profile_id}/consents": MARKETERS,
    "PUT /marketing/profiles/{profile_id}/consents": MARKETERS,
    "GET /marketing/topics": MARKETERS,
    "POST /marketing/topics": MARKETERS,
    "GET /marketing/topics/{topic_id}": MARKETERS,
    "PUT /marketing/topics/{topic_id}": MARKETERS,
    # erasures: irreversible, and they rewrite sales' records (contacts, leads): admins ask for them
    "POST /marketing/privacy/erasures": ADMINS,
    "GET /marketing/privacy/erasures": MARKETERS,
    "GET /marketing/privacy/erasures/{erasure_id}": MARKETERS,
    # the customer data API: segment exports
    "POST /marketing/exports": MARKETERS,
    "GET /marketing/exports": MARKETERS,
    "GET /marketing/exports/{export_id}": MARKETERS,
}


def _served_routes() -> set[str]:
    """Every /marketing route, from the OpenAPI document of the functions that serve them."""
    from handlers.customerdata_api import app as customerdata_app
    from handlers.email_api import app as email_app
    from handlers.marketing_api import app as marketing_app
    from handlers.reports_api import app as reports_app
    from handlers.website_api import app as website_app
    from leadstream.openapi import document

    return {
        f"{method.upper()} {path}"
        for path, operations in document(
            [marketing_app, email_app, website_app, reports_app, customerdata_app]
        )["paths"].items()
        if path.startswith("/marketing/")
        for method in operations
    }


def _call(call_api: Call, route: str, token: str | None) -> int:
    method, template = route.split(" ", 1)
    path = re.sub(r"\{(\w+)\}", "x-1", template)
    body: Any = {} if method in {"POST", "PUT", "PATCH"} else b""
    return call_api(method, path, body=body, token=token).status


def test_every_route_is_in_the_table(aws: Any) -> None:
    served = _served_routes()

    assert sorted(served - ROUTES.keys()) == [], "add these routes to ROUTES with their policy"
    assert sorted(ROUTES.keys() - served) == [], "these routes are no longer served: remove them from ROUTES"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_routes(call_api: Call, token_for: Callable[..., str], role: str) -> None:
    token = token_for(role)
    wrong = []
    for route, allowed in sorted(ROUTES.items()):
        status = _call(call_api, route, token)
        if role in allowed and (status in (401, 403) or status >= 500):
            wrong.append(f"{route}: {role} is allowed but got {status}")
        if role not in allowed and status != 403:
            wrong.append(f"{route}: {role} is not allowed but got {status}")

    assert wrong == []


def test_no_token_is_401_on_every_route(call_api: Call, aws: Any) -> None:
    statuses = {route: _call(call_api, route, None) for route in ROUTES}

    assert {route: status for route, status in statuses.items() if status != 401} == {}


def test_a_forbidden_request_is_a_problem_before_its_body_is_looked_at(
    call_api: Call, token_for: Callable[..., str]
) -> None:
    reply = call_api("POST", "/marketing/campaigns", body=b"{not json", token=token_for(SALES))

    assert reply.status == 403
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"] == "This needs the admin or marketing role; you have sales."

"""Who may call which CRM route: every route of the API, every role, and no token at all.

ROUTES is the expected policy of every route, written out here on purpose (not read from the code), so a
policy changed by mistake fails a test. A route missing from ROUTES fails `test_every_route_is_in_the_table`:
add its row when you add a route. Forbidden roles get 403 before the request is even validated, so the
calls need no valid body or existing record; allowed roles may get any answer but 401 or 403.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from crm_support import Crm

SALES, MARKETING, ADMIN = "sales", "marketing", "admin"
ROLES = (SALES, MARKETING, ADMIN)
SALES_WORK = frozenset({SALES, ADMIN})  # leadstream.auth.CRM_WRITE, CRM_DEALS
PEOPLE = frozenset({SALES, MARKETING, ADMIN})  # CRM_PEOPLE_READ
ADMINS = frozenset({ADMIN})
EVERYONE = frozenset(ROLES)


def _standard(
    plural: str, read: frozenset[str], write: frozenset[str], *, without: tuple[str, ...] = ()
) -> dict[str, frozenset[str]]:
    """The rows of a resource's standard routes (framework.register_resource), less those `without`."""
    routes = {
        "list": (f"GET /crm/{plural}", read),
        "create": (f"POST /crm/{plural}", write),
        "get": (f"GET /crm/{plural}/{{record_id}}", read),
        "patch": (f"PATCH /crm/{plural}/{{record_id}}", write),
        "delete": (f"DELETE /crm/{plural}/{{record_id}}", write),
        "history": (f"GET /crm/{plural}/{{record_id}}/history", read),
    }
    return dict(route for name, route in routes.items() if name not in without)


def _attachments(plural: str, read: frozenset[str], write: frozenset[str]) -> dict[str, Any]:
    return {
        f"GET /crm/{plural}/{{record_id}}/attachments": read,
        f"POST /crm/{plural}/{{record_id}}/attachments": write,
        f"GET /crm/{plural}/{{record_id}}/attachments/{{attachment_id}}": read,
    }


ROUTES: dict[str, frozenset[str]] = {
    # marketing reads the people (accounts, contacts), never deals and what follows them
    **_standard("accounts", PEOPLE, SALES_WORK),
    "GET /crm/accounts/{record_id}/timeline": SALES_WORK,  # it shows deals
    **_standard("contacts", PEOPLE, SALES_WORK),
    **_standard("leads", SALES_WORK, SALES_WORK),
    "POST /crm/leads/{record_id}/accept": SALES_WORK,
    "POST /crm/leads/{record_id}/reject": SALES_WORK,
    "POST /crm/leads/{record_id}/disqualify": SALES_WORK,
    "POST /crm/leads/{record_id}/convert": SALES_WORK,
    **_standard("pipelines", SALES_WORK, ADMINS),
    **_standard("deals", SALES_WORK, SALES_WORK),
    "GET /crm/forecast": SALES_WORK,
    **_standard("activities", SALES_WORK, SALES_WORK),
    **_standard("notes", SALES_WORK, SALES_WORK),
    "GET /crm/openapi.json": EVERYONE,
    # commerce (quotes, orders, contracts, tickets, products)
    **_standard("products", SALES_WORK, ADMINS, without=("delete",)),
    "GET /crm/price-book/{currency}": SALES_WORK,
    **_standard("quotes", SALES_WORK, SALES_WORK, without=("delete",)),
    "POST /crm/quotes/{record_id}/status": SALES_WORK,
    "GET /crm/quotes/{record_id}/revisions": SALES_WORK,
    "GET /crm/quotes/{record_id}/revisions/{revision}": SALES_WORK,
    **_attachments("quotes", SALES_WORK, SALES_WORK),
    **_standard("orders", SALES_WORK, SALES_WORK, without=("create", "delete")),
    "POST /crm/orders/{record_id}/status": SALES_WORK,
    "POST /crm/orders/{record_id}/repeat": SALES_WORK,
    "POST /crm/orders/{record_id}/contract": SALES_WORK,
    **_attachments("orders", SALES_WORK, SALES_WORK),
    **_standard("contracts", SALES_WORK, SALES_WORK, without=("create", "delete")),
    "POST /crm/contracts/{record_id}/terminate": SALES_WORK,
    **_attachments("contracts", SALES_WORK, SALES_WORK),
    **_standard("tickets", PEOPLE, SALES_WORK, without=("delete",)),
    "POST /crm/tickets/{record_id}/status": SALES_WORK,
    **_attachments("tickets", PEOPLE, SALES_WORK),
    # exports of CRM lists (served by the customer data function)
    "POST /crm/exports": SALES_WORK,
    "GET /crm/exports": SALES_WORK,
    "GET /crm/exports/{export_id}": SALES_WORK,
}
# Example values for path parameters (any value will do: the policy is checked before the record is read).
PATH_VALUES = {"currency": "EUR", "revision": "1"}


def _served_routes() -> set[str]:
    """Every /crm route, from the OpenAPI document of the functions that serve them (the CRM function, and
    the customer data function for CRM list exports)."""
    from handlers.crm_api import app
    from handlers.customerdata_api import app as customerdata_app
    from leadstream.openapi import document

    return {
        f"{method.upper()} {path}"
        for path, operations in document([app, customerdata_app])["paths"].items()
        if path.startswith("/crm/")
        for method in operations
    }


def _call(crm: Crm, route: str) -> int:
    method, template = route.split(" ", 1)
    path = re.sub(r"\{(\w+)\}", lambda match: PATH_VALUES.get(match.group(1), "x-1"), template)
    body: Any = {} if method in {"POST", "PATCH"} else b""
    return crm.request(method, path, body).status


def test_every_route_is_in_the_table(aws: Any) -> None:
    served = _served_routes()

    assert sorted(served - ROUTES.keys()) == [], "add these routes to ROUTES with their policy"
    assert sorted(ROUTES.keys() - served) == [], "these routes are no longer served: remove them from ROUTES"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_routes(crm_as: Callable[..., Crm], role: str) -> None:
    crm = crm_as(role)
    wrong = []
    for route, allowed in sorted(ROUTES.items()):
        status = _call(crm, route)
        if role in allowed and status in (401, 403):
            wrong.append(f"{route}: {role} is allowed but got {status}")
        if role not in allowed and status != 403:
            wrong.append(f"{route}: {role} is not allowed but got {status}")

    assert wrong == []


def test_no_token_is_401_on_every_route(call_api: Any, aws: Any) -> None:
    anonymous = Crm(call_api, token="")
    statuses = {route: _call(anonymous, route) for route in ROUTES}

    assert {route: status for route, status in statuses.items() if status != 401} == {}


def test_a_forbidden_request_is_a_problem_before_its_body_is_looked_at(crm_as: Callable[..., Crm]) -> None:
    marketing = crm_as(MARKETING)

    reply = marketing.request("POST", "/crm/deals", b"{not json")

    assert reply.status == 403
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"] == "This needs the admin or sales role; you have marketing."


def test_the_policy_check_reads_paths_under_a_named_stage(aws: Any) -> None:
    from handlers.crm_api import api

    claims = {"sub": "u-1", "cognito:groups": "[marketing]"}
    event = {
        "requestContext": {
            "stage": "prod",
            "http": {"method": "GET", "path": "/prod/crm/deals"},
            "authorizer": {"jwt": {"claims": claims}},
        },
        "headers": {},
    }

    denied = api.denial(event)

    assert denied is not None
    assert denied["statusCode"] == 403

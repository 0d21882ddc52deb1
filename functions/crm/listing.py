"""The CRM lists as other domains read them: page by page, with the same filters as `GET /crm/<plural>`.

An export of a CRM list (customerdata) names a list, its filters (the list route's query parameters) and
the columns it wants; these functions check all three against the resource and read one page at a time,
with the visibility rules of the person who asked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from crm.api.framework import Resource, list_query
from crm.resources.accounts import ACCOUNTS
from crm.resources.contacts import CONTACTS
from crm.resources.deals import DEALS
from crm.resources.leads import LEADS
from crm.store import records as store
from leadstream.api import ListParams
from leadstream.auth import Principal
from leadstream.errors import InvalidInput
from leadstream.pagination import MAX_LIMIT

# The lists an export can read, by their URL name.
LISTS: dict[str, Resource] = {"contacts": CONTACTS, "accounts": ACCOUNTS, "leads": LEADS, "deals": DEALS}
# Fields a record's GET shows beside the stored record (never stored, so never exported).
_PRESENTED = frozenset({"engagement", "revenue"})
_PAGING = frozenset({"limit", "cursor"})
_CUSTOM_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def resource(name: str) -> Resource:
    found = LISTS.get(name)
    if found is None:
        raise InvalidInput(
            f"There is no CRM list {name!r} to export; use one of {', '.join(sorted(LISTS))}.",
            errors=[{"field": "resource", "message": "unknown list"}],
        )
    return found


def filter_names(name: str) -> list[str]:
    """The filters a list takes (its route's query parameters, paging aside)."""
    model = resource(name).query_model
    return sorted({info.alias or field for field, info in model.model_fields.items()} - _PAGING)


def check_filters(name: str, filters: Mapping[str, Any]) -> dict[str, Any]:
    """The filters as the list route would read them (JSON names, values checked): 422 naming each bad
    one. `limit` and `cursor` are the export's business, not filters."""
    known = filter_names(name)
    unknown = sorted(set(filters) - set(known))
    if unknown:
        raise InvalidInput(
            f"The {name} list has no filter {', '.join(unknown)}; it takes {', '.join(known)}.",
            errors=[{"field": f"filters.{key}", "message": "unknown filter"} for key in unknown],
        )
    params = _params(name, filters)
    return params.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=set(_PAGING))


def _params(name: str, values: Mapping[str, Any]) -> ListParams:
    try:
        return resource(name).query_model.model_validate(dict(values))
    except ValidationError as exc:
        raise InvalidInput(
            f"Some filters of the {name} list are not valid.",
            errors=[
                {"field": "filters." + ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
                for error in exc.errors()
            ],
        ) from None


def columns(name: str) -> list[str]:
    """The columns a list can be exported with: its record's fields (JSON names), the fields of nested
    objects as `address.city`; custom fields are `customFields.<key>`."""
    model = resource(name).record.model
    names: list[str] = []
    for field, info in model.model_fields.items():
        alias = info.alias or field
        if alias in _PRESENTED:
            continue
        nested = _nested_model(info.annotation)
        if nested is not None:
            names += [f"{alias}.{sub.alias or key}" for key, sub in nested.model_fields.items()]
        names.append(alias)
    return names


def unknown_columns(name: str, wanted: list[str]) -> list[str]:
    known = set(columns(name))
    bad = []
    for column in wanted:
        head, _, key = column.partition(".")
        if column in known or (head == "customFields" and _CUSTOM_KEY.match(key)):
            continue
        bad.append(column)
    return bad


def records_page(
    name: str, filters: Mapping[str, Any], principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the list as its route reads it (one Query), as JSON documents the caller may see, and
    the next page's cursor (None after the last). A page may hold fewer records than `limit` when filters
    drop some; only a None cursor means the end."""
    listed = resource(name)
    params = _params(name, {**filters, "limit": min(limit, MAX_LIMIT), "cursor": cursor})
    if listed.ensure:
        listed.ensure()
    kind = listed.record
    page = store.list_records(kind, list_query(kind, params, principal))
    documents = [kind.document(record) for record in page.items if kind.is_visible(record, principal)]
    return documents, page.next_cursor


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None

"""The CRM API's framework: routes with role policies, and the six standard routes of a record resource.

A resource is described once (`Resource`: its RecordType, input models, policies, domain hooks) and
`register_resource` gives it

    GET    /crm/<plural>                      list: filters, cursor pagination       (read policy)
    POST   /crm/<plural>                      create; Idempotency-Key               (write policy)
    GET    /crm/<plural>/{record_id}          one record; ETag                       (read policy)
    PATCH  /crm/<plural>/{record_id}          JSON merge patch; If-Match required    (write policy)
    DELETE /crm/<plural>/{record_id}          If-Match required                      (write policy)
    GET    /crm/<plural>/{record_id}/history  every change, field by field          (read policy)

Role policies are checked before anything else (a 403 never depends on the body): once before the
resolver runs (`Api.denial`), and again inside each route, so a route can never be reached without
its check. docs/api.md explains the conventions and how to add a resource.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from crm.api.models import ID_PATTERN, HistoryPage
from crm.records import RecordType, merge_patch, sort_text
from crm.store import records as store
from leadstream import clock, idempotency, keys
from leadstream.api import (
    CREATED_HEADERS,
    ETAG_HEADER,
    Api,
    IdempotencyKey,
    IfMatch,
    ListParams,
    check_if_match,
    versioned_response,
)
from leadstream.api import (
    page_model as make_page_model,
)
from leadstream.auth import Principal, Role
from leadstream.errors import (
    Conflict,
    InvalidInput,
    NotFound,
)

RecordIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="the record's id")]


# --- references between records ----------------------------------------------------------------------
def referenced(references: Mapping[str, tuple[RecordType[Any], str | None]]) -> dict[str, Any]:
    """The records a body refers to, read in one BatchGetItem: {JSON field: (kind, id)} -> {field: record}.
    A reference to a record that does not exist is a 422 naming the field."""
    wanted = {name: (kind, record_id) for name, (kind, record_id) in references.items() if record_id}
    if not wanted:
        return {}
    found = store.get_many([(kind, record_id) for kind, record_id in wanted.values()])
    records, missing = {}, []
    for name, (kind, record_id) in wanted.items():
        record = found.get((kind.kind, record_id))
        if record is None:
            missing.append({"field": name, "message": f"no {kind.kind} {record_id}"})
        else:
            records[name] = record
    if missing:
        raise InvalidInput("The request refers to records that do not exist.", errors=missing)
    return records


# --- resources ---------------------------------------------------------------------------------------
Hook = Callable[[Any, Any, Principal], Any]


@dataclass(frozen=True)
class Resource:
    """A record kind served over HTTP: its storage description, its models, who may do what, its rules.

    `prepare(record, before, principal)` returns the record to store, after create (`before` None) and
    after a patch: derive fields, check references and states; raise a LeadstreamError to refuse.
    `before_delete(record, principal)` may refuse a delete (409, say).
    """

    record: RecordType[Any]
    create_model: type[BaseModel]
    patch_model: type[BaseModel]
    query_model: type[ListParams]
    read: frozenset[Role]
    write: frozenset[Role]
    tag: str
    prepare: Hook | None = None
    before_delete: Callable[[Any, Principal], None] | None = None
    operations: frozenset[str] = frozenset({"list", "create", "get", "patch", "delete", "history"})
    # A create body may name the new record's id in this field (pipelines: readable slugs); else generated.
    client_id_field: str | None = None
    # Fields (JSON names) every new record starts with, before the body's (a manual lead's origin).
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Rewrites a PATCH body (JSON names) before it is merged: what one change implies for another field
    # (a deal's stage move resets its probability unless the same patch sets it).
    rewrite_patch: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None
    # Runs before the list and get routes: what must exist before anyone reads (the standard pipeline).
    ensure: Callable[[], None] | None = None
    # What the GET of one record shows beside the stored record (an account's engagement and revenue,
    # which the closed loop keeps): given by the handler that combines domains; never stored.
    present: Callable[[Any], Any] | None = None
    page_model: type[BaseModel] = field(init=False)

    def __post_init__(self) -> None:
        page = make_page_model(self.record.model, f"{self.record.model.__name__}Page", self.record.plural)
        object.__setattr__(self, "page_model", page)

    @property
    def path(self) -> str:
        return f"/crm/{self.record.plural}"

    # --- the operations, callable from other routes too (a conversion creates three records) -------
    def get(self, record_id: str, principal: Principal) -> Any:
        found = store.get_record(self.record, record_id)
        if found is None or not self.record.is_visible(found, principal):
            raise NotFound(f"No {self.record.kind} {record_id}.")
        return found

    def get_for_action(self, record_id: str, principal: Principal, if_match: str | None) -> Any:
        """The record an action route works on: 404 if the caller may not see it; 412 if If-Match is sent
        and stale (actions check it only when sent: their own state machine refuses a repeat)."""
        record = self.get(record_id, principal)
        if if_match is not None:
            check_if_match(if_match, self.record.version(record))
        return record

    def new(self, body: BaseModel, principal: Principal, record_id: str) -> Any:
        """The record a create body describes (not stored): id, owner (default: the caller), bookkeeping."""
        document: dict[str, Any] = {**self.defaults, **body.model_dump(by_alias=True, exclude_none=True)}
        aliases = self.record.aliases
        document[aliases[self.record.id_field]] = record_id
        owner = self.record.owner_field
        if owner and not document.get(aliases[owner]):
            document[aliases[owner]] = principal.user_id
        return self._prepared(self._stamped(document, principal), None, principal)

    def create(self, body: BaseModel, principal: Principal, record_id: str) -> Any:
        record = self.new(body, principal, record_id)
        store.create_record(self.record, record, principal)
        return record

    def patch(
        self, before: Any, changes: Mapping[str, Any], principal: Principal, *, action: str = "updated"
    ) -> Any:
        """Apply a JSON merge patch (JSON names) to `before` and store it as the next version."""
        if self.rewrite_patch is not None:
            changes = self.rewrite_patch(before, dict(changes))
        merged = merge_patch(self.record.document(before), changes)
        return self.save(before, self.record.model.model_validate(merged), principal, action=action)

    def save(self, before: Any, after: Any, principal: Principal, *, action: str = "updated") -> Any:
        """Store `after` (built from `before` by an action) as the next version, after `prepare`; 412 if
        `before` is no longer current. Returns the stored record (`before` itself if nothing changed)."""
        stored, _ = store.update_record(
            self.record, before, self._prepared(after, before, principal), principal, action=action
        )
        return stored

    def _stamped(self, document: dict[str, Any], principal: Principal) -> Any:
        moment = clock.now()
        draft = self.record.model.model_validate({**document, "createdAt": moment, "updatedAt": moment})
        return store.stamp_new(self.record, draft, principal)

    def _prepared(self, record: Any, before: Any, principal: Principal) -> Any:
        return self.prepare(record, before, principal) if self.prepare else record


def register_resource(api: Api, resource: Resource) -> None:
    """The standard routes of `resource` (those in `resource.operations`)."""
    routes = _StandardRoutes(api, resource)
    kind, base, one = resource.record, resource.path, f"{resource.path}/<record_id>"
    name, plural = kind.kind, kind.plural
    a_name = f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
    read, write = resource.read, resource.write
    responding = Response[kind.model]  # type: ignore[name-defined]  # the resource's model, known only here
    operations = [
        _Operation(
            "list", "GET", base, read, f"List {plural}", [400], routes.list, resource.page_model
        ).taking(params=Annotated[resource.query_model, Query()]),
        _Operation("create", "POST", base, write, f"Create {a_name}", [404, 409], routes.create, responding)
        .taking(body=resource.create_model, idempotency_key=IdempotencyKey)
        .answering(201, CREATED_HEADERS),
        _Operation("get", "GET", one, read, f"Get {a_name}", [404], routes.get, responding)
        .taking(record_id=RecordIdPath)
        .answering(200, ETAG_HEADER),
        _Operation(
            "patch",
            "PATCH",
            one,
            write,
            f"Change {a_name} (JSON merge patch: only the fields sent change; null removes one)",
            [404, 409, 412, 428],
            routes.patch,
            responding,
        )
        .taking(record_id=RecordIdPath, body=resource.patch_model, if_match=IfMatch)
        .answering(200, ETAG_HEADER),
        _Operation(
            "delete", "DELETE", one, write, f"Delete {a_name}", [404, 409, 412, 428], routes.delete, None
        )
        .taking(record_id=RecordIdPath, if_match=IfMatch)
        .answering(204),
        _Operation(
            "history",
            "GET",
            f"{one}/history",
            read,
            f"The changes of {a_name}",
            [400, 404],
            routes.history,
            HistoryPage,
        ).taking(record_id=RecordIdPath, params=Annotated[ListParams, Query()]),
    ]
    for operation in operations:
        if operation.name in resource.operations:
            operation.register(api, resource.tag, f"{operation.name}_{name}")


class _StandardRoutes:
    """The handlers of a resource's standard routes (the resolver gives them their types: `_typed`)."""

    def __init__(self, api: Api, resource: Resource) -> None:
        self.api, self.resource, self.kind = api, resource, resource.record

    def list(self, params: Any) -> Any:
        self.api.refuse_unknown_parameters(self.resource.query_model)
        principal = self.api.principal()
        if self.resource.ensure:
            self.resource.ensure()
        page = store.list_records(self.kind, list_query(self.kind, params, principal))
        visible = [record for record in page.items if self.kind.is_visible(record, principal)]
        return self.resource.page_model(items=visible, nextCursor=page.next_cursor)

    def create(self, body: Any, idempotency_key: Any = None) -> Any:
        principal, resource = self.api.principal(), self.resource
        chosen = getattr(body, resource.client_id_field, None) if resource.client_id_field else None

        def create(record_id: str) -> dict[str, Any]:
            return self.kind.document(resource.create(body, principal, chosen or record_id))

        def create_or_find(record_id: str) -> dict[str, Any]:
            """The id comes from the key: if it is taken, an earlier try of this request stored the record
            and died before its response was saved; that record is the answer."""
            try:
                return create(record_id)
            except Conflict:
                earlier = None if chosen else store.get_record(self.kind, record_id)
                if earlier is None or getattr(earlier, "created_by", principal.user_id) != principal.user_id:
                    raise
                return self.kind.document(earlier)

        if idempotency_key is None:
            document = create(_new_id())
        else:
            document = idempotency.create_with_key(
                scope=f"{principal.user_id}:{self.kind.kind}",
                key=idempotency_key,
                payload=body.model_dump(mode="json", by_alias=True),
                create=create_or_find,
                context=self.api.context(),
            )
        record = self.kind.model.model_validate(document)
        location = f"{resource.path}/{self.kind.record_id(record)}"
        return versioned_response(record, self.kind.version(record), status=201, location=location)

    def get(self, record_id: str) -> Any:
        if self.resource.ensure:
            self.resource.ensure()
        record = self.resource.get(record_id, self.api.principal())
        shown = self.resource.present(record) if self.resource.present else record
        return versioned_response(shown, self.kind.version(record))

    def patch(self, record_id: str, body: Any, if_match: Any = None) -> Any:
        principal = self.api.principal()
        before = self.resource.get(record_id, principal)
        check_if_match(if_match, self.kind.version(before))
        changes = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
        after = self.resource.patch(before, changes, principal)
        return versioned_response(after, self.kind.version(after))

    def delete(self, record_id: str, if_match: Any = None) -> Any:
        principal = self.api.principal()
        before = self.resource.get(record_id, principal)
        check_if_match(if_match, self.kind.version(before))
        if self.resource.before_delete:
            self.resource.before_delete(before, principal)
        store.delete_record(self.kind, before, principal)
        return Response(status_code=204)

    def history(self, record_id: str, params: Any) -> Any:
        self.api.refuse_unknown_parameters(ListParams)
        principal = self.api.principal()
        if self.kind.visible is not None:
            self.resource.get(record_id, principal)  # a record the caller may not see has no history for them
        page = store.history(self.kind, record_id, limit=params.limit, cursor=params.cursor)
        if not page.items and params.cursor is None:
            raise NotFound(f"No {self.kind.kind} {record_id}.")
        return HistoryPage(items=page.items, next_cursor=page.next_cursor)


@dataclass
class _Operation:
    """One standard route of a resource, before registration."""

    name: str
    method: str
    rule: str
    policy: frozenset[Role]
    summary: str
    problems: list[int]
    handler: Callable[..., Any]
    returns: Any
    parameters: dict[str, Any] = field(default_factory=dict)
    status_code: int = 200
    headers: dict[str, Any] | None = None

    def taking(self, **parameters: Any) -> _Operation:
        self.parameters = parameters
        return self

    def answering(self, status_code: int, headers: dict[str, Any] | None = None) -> _Operation:
        self.status_code, self.headers = status_code, headers
        return self

    def register(self, api: Api, tag: str, operation_id: str) -> None:
        handler = _typed(self.handler, self.returns, **self.parameters)
        handler.__name__ = operation_id
        api.route(
            self.method,
            self.rule,
            policy=self.policy,
            summary=self.summary,
            tag=tag,
            status_code=self.status_code,
            problems=self.problems,
            headers=self.headers,
        )(handler)


def list_query(kind: RecordType[Any], params: ListParams, principal: Principal) -> store.ListQuery:
    """The index query a list's parameters ask for (ListParams says how fields are read)."""
    fields = type(params).model_fields
    values = params.model_dump(exclude_none=True)
    limit, cursor = values.pop("limit"), values.pop("cursor", None)
    owner = values.pop(kind.owner_field, None) if kind.owner_field else None
    owner = principal.user_id if owner == "me" else owner
    account = values.pop(kind.account_field, None) if kind.account_field else None
    lower = [values.pop(name) for name in list(values) if name.endswith("_from")]
    upper = [values.pop(name) for name in list(values) if name.endswith("_to")]
    index, partition = keys.record_list_partition(kind.kind, owner_id=owner, account_id=account)
    filters = {fields[name].alias or name: _filter_value(value) for name, value in values.items()}
    if owner and account:  # the account's list is narrower; the owner becomes a filter on it
        filters[kind.aliases[kind.owner_field or "owner_id"]] = owner
    return store.ListQuery(
        index=index,
        partition=partition,
        sort_from=sort_text(lower[0]) if lower else None,
        sort_to=sort_text(upper[0]) if upper else None,
        filters=filters,
        limit=limit,
        cursor=cursor,
    )


def _filter_value(value: Any) -> str | int | bool:
    if isinstance(value, Enum):
        return cast(str, value.value)
    if isinstance(value, datetime | date):
        return sort_text(value)
    return cast(str | int | bool, value)


def _typed(method: Callable[..., Any], returns: Any, **parameters: Any) -> Callable[..., Any]:
    """Give a generic route handler its resource's concrete types: the resolver reads them from the
    signature to validate the request and the response and to write the OpenAPI document."""

    def handler(**arguments: Any) -> Any:
        return method(**arguments)

    signature = inspect.signature(method)
    typed = [
        parameter.replace(annotation=parameters.get(parameter.name, parameter.annotation))
        for parameter in signature.parameters.values()
    ]
    handler.__signature__ = signature.replace(parameters=typed, return_annotation=returns)  # type: ignore[attr-defined]
    return handler


def _new_id() -> str:
    return str(uuid.uuid4())

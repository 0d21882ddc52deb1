"""Quotes: priced offers with revisions and a status state machine (crm.commerce.quotes).

Creating and editing price the lines from the price book, so they are routes of their own rather than the
generic create and PATCH; list, get and history are the standard ones. Accepting a quote creates its order.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from botocore.exceptions import ClientError
from pydantic import Field

from crm.api.framework import RecordIdPath, Resource, referenced, register_resource
from crm.api.models import RecordId, UserId
from crm.commerce import quotes
from crm.commerce.orders import order_from_quote
from crm.commerce.pricing import Line, LineInput
from crm.commerce.products import price_lines
from crm.commerce.quotes import Quote, QuoteChanges, QuoteInput, QuoteStatus, QuoteTransition
from crm.records import RecordType
from crm.resources.accounts import ACCOUNT
from crm.resources.contacts import CONTACT
from crm.resources.orders import ORDER
from crm.resources.products import products_by_id
from crm.store import records as store
from leadstream import clock, keys
from leadstream.api import (
    ETAG_HEADER,
    Api,
    IdempotencyKey,
    IfMatch,
    ListParams,
    check_if_match,
    create_once,
    versioned_response,
)
from leadstream.auth import CRM_DEALS, Principal
from leadstream.aws import dynamodb
from leadstream.errors import Conflict, NotFound
from leadstream.models import Model
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item, serialize


class QuoteQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's quotes; `me`")
    account_id: RecordId | None = Field(default=None, alias="accountId", description="an account's quotes")
    status: QuoteStatus | None = None
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


QUOTE = RecordType(
    kind="quote",
    plural="quotes",
    model=Quote,
    id_field="quote_id",
    title_field="name",
    timeline_fields=("status",),
)

QUOTES = Resource(
    record=QUOTE,
    create_model=QuoteInput,
    patch_model=QuoteChanges,
    query_model=QuoteQuery,
    read=CRM_DEALS,
    write=CRM_DEALS,
    tag="quotes",
    # Quotes are business records: a draft that is not wanted is left to expire, never deleted.
    operations=frozenset({"list", "get", "history"}),
)


class RevisionPage(Model):
    """Earlier revisions of a quote, each as it was sent, newest first."""

    items: list[Quote]
    next_cursor: str | None = Field(default=None, alias="nextCursor")


RevisionPath = Annotated[int, Path(ge=1, description="the revision number")]


def priced(lines: list[LineInput], currency: str) -> list[Line]:
    products = products_by_id([line.product_id for line in lines if line.product_id])
    return price_lines(lines, currency=currency, products=products)


def check_references(quote: Quote, before: Quote | None) -> None:
    """The account and contact a quote names must exist; checked when they change."""
    wanted: dict[str, tuple[RecordType[Any], str | None]] = {}
    if before is None or before.account_id != quote.account_id:
        wanted["accountId"] = (ACCOUNT, quote.account_id)
    if quote.contact_id and (before is None or before.contact_id != quote.contact_id):
        wanted["contactId"] = (CONTACT, quote.contact_id)
    referenced(wanted)


def keep_revision(quote: Quote) -> None:
    """Store a sent revision as it was (idempotent: a revision never changes once sent)."""
    item = {**keys.quote_revision_key(quote.quote_id, quote.revision), **QUOTE.document(quote)}
    try:
        dynamodb().put_item(
            TableName=get_settings().main_table,
            Item=serialize(item),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def ensure_order(quote: Quote, principal: Principal) -> None:
    """The order of an accepted quote, created unless it exists: safe to call again after a failure."""
    if quote.order_id is None or store.get_record(ORDER, quote.order_id) is not None:
        return
    order = store.stamp_new(ORDER, order_from_quote(quote, now=clock.now()), principal)
    try:
        store.create_record(ORDER, order, principal, action="created-from-quote")
    except Conflict:
        if store.get_record(ORDER, quote.order_id) is None:  # not the "exists already" conflict
            raise


def register(api: Api) -> None:
    register_resource(api, QUOTES)

    @api.route(
        "POST",
        "/crm/quotes",
        policy=CRM_DEALS,
        summary="Create a quote (lines priced from the price book unless they give a unitPrice)",
        tag="quotes",
        status_code=201,
        problems=[409],
        headers={**ETAG_HEADER, "Location": {"description": "the new quote's URL"}},
    )
    def create_quote(body: QuoteInput, idempotency_key: IdempotencyKey = None) -> Response[Quote]:
        principal = api.principal()

        def create(quote_id: str) -> dict[str, Any]:
            draft = quotes.new_quote(
                body,
                priced(body.lines, body.currency),
                quote_id=quote_id,
                owner_id=principal.user_id,
                now=clock.now(),
            )
            check_references(draft, None)
            quote = store.stamp_new(QUOTE, draft, principal)
            store.create_record(QUOTE, quote, principal)
            return QUOTE.document(quote)

        document = create_once(
            api, resource="quote", body=body, idempotency_key=idempotency_key, create=create
        )
        quote = Quote.model_validate(document)
        return versioned_response(quote, quote.version, status=201, location=f"/crm/quotes/{quote.quote_id}")

    @api.route(
        "PATCH",
        "/crm/quotes/<record_id>",
        policy=CRM_DEALS,
        summary="Change a quote: a draft in place; a sent quote becomes its next revision (a draft)",
        tag="quotes",
        problems=[404, 409, 412, 428],
        headers=ETAG_HEADER,
        operation_id="patch_quote",
    )
    def patch_quote(record_id: RecordIdPath, body: QuoteChanges, if_match: IfMatch = None) -> Response[Quote]:
        principal = api.principal()
        before: Quote = QUOTES.get(record_id, principal)
        check_if_match(if_match, before.version)
        currency = body.currency or before.currency
        lines = priced(body.lines, currency) if body.lines is not None else None
        edited, sent_revision = quotes.edit(before, body, lines)
        check_references(edited, before)
        if sent_revision is not None:
            keep_revision(sent_revision)
        action = "revised" if sent_revision is not None else "updated"
        after: Quote = QUOTES.save(before, edited, principal, action=action)
        return versioned_response(after, after.version)

    @api.route(
        "POST",
        "/crm/quotes/<record_id>/status",
        policy=CRM_DEALS,
        summary="Move a quote to another status (accepting it creates its order)",
        tag="quotes",
        problems=[404, 409, 412],
        headers=ETAG_HEADER,
    )
    def change_quote_status(
        record_id: RecordIdPath, body: QuoteTransition, if_match: IfMatch = None
    ) -> Response[Quote]:
        principal = api.principal()
        before: Quote = QUOTES.get(record_id, principal)
        if before.status is QuoteStatus.ACCEPTED and body.status is QuoteStatus.ACCEPTED:
            # A retry of an acceptance that stopped before its order was made finishes it.
            ensure_order(before, principal)
            return versioned_response(before, before.version)
        if if_match is not None:
            check_if_match(if_match, before.version)
        now = clock.now()
        moved = quotes.transition(before, body.status, today=now.date(), now=now, reason=body.reason)
        after: Quote = QUOTES.save(before, moved, principal, action=body.status.value)
        if after.status is QuoteStatus.ACCEPTED:
            ensure_order(after, principal)
        return versioned_response(after, after.version)

    @api.route(
        "GET",
        "/crm/quotes/<record_id>/revisions",
        policy=CRM_DEALS,
        summary="A quote's earlier revisions, each as it was sent",
        tag="quotes",
        problems=[400, 404],
    )
    def list_quote_revisions(record_id: RecordIdPath, params: Annotated[ListParams, Query()]) -> RevisionPage:
        QUOTES.get(record_id, api.principal())
        partition = QUOTE.key(record_id)["pk"]
        items, cursor = store.query_page(
            store.ListQuery(
                None,
                partition,
                sort_prefix=keys.QUOTE_REVISION_PREFIX,
                limit=params.limit,
                cursor=params.cursor,
            )
        )
        return RevisionPage(items=[Quote.model_validate(item) for item in items], nextCursor=cursor)

    @api.route(
        "GET",
        "/crm/quotes/<record_id>/revisions/<revision>",
        policy=CRM_DEALS,
        summary="One revision of a quote (the current one, or an earlier one as it was sent)",
        tag="quotes",
        problems=[404],
    )
    def get_quote_revision(record_id: RecordIdPath, revision: RevisionPath) -> Quote:
        current: Quote = QUOTES.get(record_id, api.principal())
        if revision == current.revision:
            return current
        item = get_item(get_settings().main_table, keys.quote_revision_key(record_id, revision))
        if item is None:
            raise NotFound(
                f"Quote {record_id} has no revision {revision} (it is at revision {current.revision})."
            )
        return Quote.model_validate(item)

"""Orders: made by accepting a quote (resources/quotes.py) or by repeating an order; an order creates at
most one contract. Lines and amounts never change after the order is made."""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import Field

from crm.api.framework import RecordIdPath, Resource, referenced, register_resource
from crm.api.models import CrmInput, Name, RecordId, UserId
from crm.commerce import orders
from crm.commerce.contracts import Contract, ContractInput, contract_from_order, next_timer
from crm.commerce.orders import Order, OrderStatus, OrderTransition, RepeatOrderInput
from crm.commerce.settings import get_commerce_settings
from crm.commerce.store.timers import DynamoTimerStore
from crm.records import RecordType
from crm.resources.contacts import CONTACT
from crm.resources.contracts import CONTRACT
from crm.store import records as store
from leadstream import clock
from leadstream.api import (
    ETAG_HEADER,
    Api,
    IdempotencyKey,
    IfMatch,
    ListParams,
    create_once,
    versioned_response,
)
from leadstream.auth import CRM_DEALS, Principal
from leadstream.errors import Conflict, PreconditionFailed

CREATED = {**ETAG_HEADER, "Location": {"description": "the new record's URL"}}


class OrderChanges(CrmInput):
    """A PATCH of an order: its name and who it is for. Lines and amounts are fixed when it is made."""

    name: Name | None = None
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    owner_id: UserId | None = Field(default=None, alias="ownerId")


class OrderQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's orders; `me`")
    account_id: RecordId | None = Field(default=None, alias="accountId", description="an account's orders")
    status: OrderStatus | None = None
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


ORDER = RecordType(
    kind="order",
    plural="orders",
    model=Order,
    id_field="order_id",
    title_field="name",
    timeline_fields=("status",),
)


def prepare(order: Order, before: Order | None, principal: Principal) -> Order:
    if order.contact_id and (before is None or before.contact_id != order.contact_id):
        referenced({"contactId": (CONTACT, order.contact_id)})
    return order


ORDERS = Resource(
    record=ORDER,
    create_model=RepeatOrderInput,  # orders are made by actions, not by the generic create
    patch_model=OrderChanges,
    query_model=OrderQuery,
    read=CRM_DEALS,
    write=CRM_DEALS,
    tag="orders",
    prepare=prepare,
    operations=frozenset({"list", "get", "patch", "history"}),
)


def link_contract(order: Order, contract_id: str, principal: Principal) -> None:
    """Note the contract on its order. The contract names its order either way; if the order changed
    meanwhile, read it again and note it on that version."""
    for _ in range(3):
        if order.contract_id == contract_id:
            return
        try:
            ORDERS.save(
                order, order.model_copy(update={"contract_id": contract_id}), principal, action="contracted"
            )
            return
        except PreconditionFailed:
            order = ORDERS.get(order.order_id, principal)


def _has_contract(order: Order, contract_id: str) -> Conflict:
    return Conflict(
        f"Order {order.order_id} already has contract {contract_id}; change that one.",
        errors=[{"field": "orderId", "message": f"has contract {contract_id}"}],
    )


def register(api: Api) -> None:
    register_resource(api, ORDERS)

    @api.route(
        "POST",
        "/crm/orders/<record_id>/status",
        policy=CRM_DEALS,
        summary="Move an order to another status (fulfilled or cancelled)",
        tag="orders",
        problems=[404, 409, 412],
        headers=ETAG_HEADER,
    )
    def change_order_status(
        record_id: RecordIdPath, body: OrderTransition, if_match: IfMatch = None
    ) -> Response[Order]:
        principal = api.principal()
        before: Order = ORDERS.get_for_action(record_id, principal, if_match)
        moved = orders.transition(before, body.status, now=clock.now(), reason=body.reason)
        after: Order = ORDERS.save(before, moved, principal, action=body.status.value)
        return versioned_response(after, after.version)

    @api.route(
        "POST",
        "/crm/orders/<record_id>/repeat",
        policy=CRM_DEALS,
        summary="Order the same again: a new confirmed order with this order's lines and prices",
        tag="orders",
        status_code=201,
        problems=[404],
        headers=CREATED,
    )
    def repeat_order(
        record_id: RecordIdPath, body: RepeatOrderInput, idempotency_key: IdempotencyKey = None
    ) -> Response[Order]:
        principal = api.principal()
        original: Order = ORDERS.get(record_id, principal)

        def create(order_id: str) -> dict[str, Any]:
            repeat = orders.repeat_order(
                original, body, order_id=order_id, owner_id=principal.user_id, now=clock.now()
            )
            repeat = store.stamp_new(ORDER, prepare(repeat, None, principal), principal)
            store.create_record(ORDER, repeat, principal, action="repeated")
            return ORDER.document(repeat)

        document = create_once(
            api, resource="order", body=body, idempotency_key=idempotency_key, create=create
        )
        order = Order.model_validate(document)
        return versioned_response(order, order.version, status=201, location=f"/crm/orders/{order.order_id}")

    @api.route(
        "POST",
        "/crm/orders/<record_id>/contract",
        policy=CRM_DEALS,
        summary="Create the order's contract (one per order); its renewal deal follows automatically",
        tag="orders",
        status_code=201,
        problems=[404, 409],
        headers=CREATED,
    )
    def create_contract(
        record_id: RecordIdPath, body: ContractInput, idempotency_key: IdempotencyKey = None
    ) -> Response[Contract]:
        principal = api.principal()
        order: Order = ORDERS.get(record_id, principal)
        settings = get_commerce_settings()

        def create(_: str) -> dict[str, Any]:
            now = clock.now()
            contract = contract_from_order(order, body, default_lead_days=settings.renewal_lead_days, now=now)
            if store.get_record(CONTRACT, contract.contract_id) is not None:
                raise _has_contract(order, contract.contract_id)
            contract = store.stamp_new(CONTRACT, contract, principal)
            # The timer first: a contract is never stored without its renewal timer (docs/commerce.md).
            timers = DynamoTimerStore(lookback_months=settings.renewal_lookback_months)
            timers.set(contract.contract_id, next_timer(contract, today=now.date()))
            try:
                store.create_record(CONTRACT, contract, principal)
            except Conflict:
                # A concurrent request made it first, and our timer may have replaced its: set it back.
                winner = store.get_record(CONTRACT, contract.contract_id)
                if winner is None:
                    raise
                timers.set(winner.contract_id, next_timer(winner, today=now.date()))
                raise _has_contract(order, winner.contract_id) from None
            link_contract(order, contract.contract_id, principal)
            return CONTRACT.document(contract)

        document = create_once(
            api, resource="contract", body=body, idempotency_key=idempotency_key, create=create
        )
        contract = Contract.model_validate(document)
        location = f"/crm/contracts/{contract.contract_id}"
        return versioned_response(contract, contract.version, status=201, location=location)

"""Contracts: created from an order (resources/orders.py); edited while active; terminated with a reason
or expired by the daily renewal job, which also creates each one's renewal deal (crm.commerce.renewals)."""

from __future__ import annotations

from datetime import date

from aws_lambda_powertools.event_handler import Response
from pydantic import Field

from crm.api.framework import RecordIdPath, Resource, register_resource
from crm.api.models import RecordId, UserId
from crm.commerce import contracts
from crm.commerce.contracts import (
    Contract,
    ContractChanges,
    ContractInput,
    ContractStatus,
    Termination,
    next_timer,
)
from crm.commerce.settings import get_commerce_settings
from crm.commerce.store.timers import DynamoTimerStore
from crm.records import RecordType
from leadstream import clock
from leadstream.api import ETAG_HEADER, Api, IfMatch, ListParams, check_if_match, versioned_response
from leadstream.auth import CRM_DEALS


class ContractQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's contracts; `me`")
    account_id: RecordId | None = Field(default=None, alias="accountId", description="an account's contracts")
    status: ContractStatus | None = None
    end_from: date | None = Field(default=None, alias="endFrom", description="ending on or after")
    end_to: date | None = Field(default=None, alias="endTo", description="ending on or before")


CONTRACT = RecordType(
    kind="contract",
    plural="contracts",
    model=Contract,
    id_field="contract_id",
    title_field="name",
    sort_field="end_date",  # lists run by end date: what ends next
    timeline_fields=("status",),
)

CONTRACTS = Resource(
    record=CONTRACT,
    create_model=ContractInput,  # made from an order: POST /crm/orders/{id}/contract
    patch_model=ContractChanges,
    query_model=ContractQuery,
    read=CRM_DEALS,
    write=CRM_DEALS,
    tag="contracts",
    operations=frozenset({"list", "get", "history"}),
)


def timers() -> DynamoTimerStore:
    return DynamoTimerStore(lookback_months=get_commerce_settings().renewal_lookback_months)


def register(api: Api) -> None:
    register_resource(api, CONTRACTS)

    @api.route(
        "PATCH",
        "/crm/contracts/<record_id>",
        policy=CRM_DEALS,
        summary="Change an active contract (name, terms, value, end date, renewal lead time)",
        tag="contracts",
        problems=[404, 409, 412, 428],
        headers=ETAG_HEADER,
        operation_id="patch_contract",
    )
    def patch_contract(
        record_id: RecordIdPath, body: ContractChanges, if_match: IfMatch = None
    ) -> Response[Contract]:
        principal = api.principal()
        before: Contract = CONTRACTS.get(record_id, principal)
        check_if_match(if_match, before.version)
        edited = contracts.edit(before, body)
        # Before the change: a renewal that moved earlier must not wait for the old timer.
        timers().bring_forward(record_id, next_timer(edited, today=clock.today()))
        after: Contract = CONTRACTS.save(before, edited, principal)
        return versioned_response(after, after.version)

    @api.route(
        "POST",
        "/crm/contracts/<record_id>/terminate",
        policy=CRM_DEALS,
        summary="End an active contract early, with the reason",
        tag="contracts",
        problems=[404, 409, 412],
        headers=ETAG_HEADER,
    )
    def terminate_contract(
        record_id: RecordIdPath, body: Termination, if_match: IfMatch = None
    ) -> Response[Contract]:
        principal = api.principal()
        before: Contract = CONTRACTS.get_for_action(record_id, principal, if_match)
        ended = contracts.terminate(before, body, now=clock.now())
        after: Contract = CONTRACTS.save(before, ended, principal, action="terminated")
        timers().set(record_id, None)  # if this fails, the job drops the timer when it fires
        return versioned_response(after, after.version)

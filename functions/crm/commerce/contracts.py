"""Contracts: what an order commits to over time, and when to start renewing it.

    active --terminate (with a reason)--> terminated
           --its end date passes-------> expired        (both final)

An order creates at most one contract (the contract id is derived from the order id). Each active
contract has one pending timer, kept in a sparse index (docs/data-model.md):

1. RENEW on `endDate - renewalLeadDays` (never earlier than the day the timer is set): the daily renewal
   job creates the renewal deal, whose id is derived from the contract id, so reruns create no second one;
2. EXPIRE on the day after `endDate` (the end date is the contract's last day): the job marks it expired.

A terminated or expired contract has no timer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import ConfigDict, Field, computed_field, model_validator

from crm.api.models import CrmInput, LongText, Name, RecordId
from crm.commerce.money import MINOR_UNITS, Amount
from crm.commerce.orders import Order, OrderStatus
from crm.commerce.states import InvalidTransition, StateMachine
from crm.records import CrmRecord
from leadstream.errors import InvalidInput
from leadstream.numbers import StorableIntOrNone
from leadstream.profiles import UtcTime

DEFAULT_RENEWAL_LEAD_DAYS = 60
MAX_RENEWAL_LEAD_DAYS = 730


class ContractStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"
    EXPIRED = "expired"


CONTRACT_STATUS = StateMachine[ContractStatus](
    "contract",
    {ContractStatus.ACTIVE: frozenset({ContractStatus.TERMINATED, ContractStatus.EXPIRED})},
)


LEAD_DAYS = "days before the end date that the renewal deal is created (default: the stack's setting)"


class ContractInput(CrmInput):
    """What creating a contract from an order takes; `value` defaults to the order's total, `terms` and
    `name` to the order's."""

    name: Name | None = None
    start_date: date = Field(alias="startDate")
    end_date: date = Field(alias="endDate", description="the contract's last day")
    terms: LongText | None = None
    value: Amount | None = Field(default=None, description="in the order's currency")
    renewal_lead_days: StorableIntOrNone = Field(
        default=None, alias="renewalLeadDays", ge=1, le=MAX_RENEWAL_LEAD_DAYS, description=LEAD_DAYS
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.end_date < self.start_date:
            raise ValueError("endDate must be on or after startDate")
        return self


class ContractChanges(CrmInput):
    """A PATCH of an active contract: name, terms, value, end date, renewal lead time."""

    name: Name | None = None
    end_date: date | None = Field(default=None, alias="endDate")
    terms: LongText | None = None
    value: Amount | None = None
    renewal_lead_days: StorableIntOrNone = Field(
        default=None, alias="renewalLeadDays", ge=1, le=MAX_RENEWAL_LEAD_DAYS, description=LEAD_DAYS
    )


class Termination(CrmInput):
    reason: str = Field(min_length=1, max_length=2000, description="why the contract ends early")


class Contract(CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    contract_id: RecordId = Field(alias="contractId")
    order_id: str = Field(alias="orderId")
    status: ContractStatus = ContractStatus.ACTIVE
    name: str
    account_id: str = Field(alias="accountId")
    contact_id: str | None = Field(default=None, alias="contactId")
    owner_id: str = Field(alias="ownerId")
    start_date: date = Field(alias="startDate")
    end_date: date = Field(alias="endDate")
    terms: str | None = None
    value: Decimal
    currency: str
    renewal_lead_days: int = Field(alias="renewalLeadDays")
    renewal_deal_id: str | None = Field(default=None, alias="renewalDealId")
    termination_reason: str | None = Field(default=None, alias="terminationReason")
    terminated_at: UtcTime | None = Field(default=None, alias="terminatedAt")
    expired_at: UtcTime | None = Field(default=None, alias="expiredAt")

    @computed_field(alias="renewalDueOn", description="the day the renewal deal is due to be created")  # type: ignore[prop-decorator]
    @property
    def renewal_due_on(self) -> date:
        return self.end_date - timedelta(days=self.renewal_lead_days)

    def up_for_renewal(self, today: date) -> bool:
        """Active, not yet ended, and inside its renewal lead time."""
        return self.status is ContractStatus.ACTIVE and self.renewal_due_on <= today <= self.end_date


def contract_id_for_order(order_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadstream:contract-of-order:{order_id}"))


def renewal_deal_id(contract_id: str) -> str:
    """The renewal deal of a contract: one id, so however often the job runs there is one deal."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadstream:renewal-deal:{contract_id}"))


def check_value_precision(value: Decimal, currency: str) -> list[dict[str, str]]:
    """Problems with an amount that has more decimals than its currency has minor units."""
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > MINOR_UNITS[currency]:
        allowed = MINOR_UNITS[currency]
        return [{"field": "value", "message": f"{currency} amounts have at most {allowed} decimals"}]
    return []


def contract_from_order(
    order: Order, data: ContractInput, *, default_lead_days: int, now: datetime
) -> Contract:
    """The contract an order creates. A cancelled order commits to nothing, so it creates none."""
    if order.status is OrderStatus.CANCELLED:
        raise InvalidTransition(
            "This order is cancelled: a cancelled order cannot create a contract.",
            errors=[{"field": "status", "message": "contracts need a confirmed or fulfilled order"}],
        )
    today = now.date()
    if data.end_date < today:
        raise InvalidInput(
            f"endDate {data.end_date} has already passed: a contract must end today or later.",
            errors=[{"field": "endDate", "message": "must be today or later"}],
        )
    value = data.value if data.value is not None else order.totals.total
    problems = check_value_precision(value, order.currency)
    if problems:
        raise InvalidInput("The contract value has more decimals than its currency.", errors=problems)
    return Contract(
        created_at=now,
        updated_at=now,
        contract_id=contract_id_for_order(order.order_id),
        order_id=order.order_id,
        name=data.name or order.name,
        account_id=order.account_id,
        contact_id=order.contact_id,
        owner_id=order.owner_id,
        start_date=data.start_date,
        end_date=data.end_date,
        terms=data.terms if data.terms is not None else order.terms,
        value=value,
        currency=order.currency,
        renewal_lead_days=data.renewal_lead_days or default_lead_days,
    )


def edit(contract: Contract, changes: ContractChanges) -> Contract:
    """An active contract's name, terms, value, end date or lead time, changed."""
    if contract.status is not ContractStatus.ACTIVE:
        raise InvalidTransition(
            f"This contract is {contract.status.value}, which is final: it cannot be edited.",
            errors=[{"field": "status", "message": "edits need an active contract"}],
        )
    updates = changes.model_dump(exclude_unset=True)
    edited = type(contract).model_validate(contract.model_dump() | updates)
    problems = check_value_precision(edited.value, edited.currency)
    if edited.end_date < edited.start_date:
        problems.append({"field": "endDate", "message": "must be on or after startDate"})
    if problems:
        raise InvalidInput("These changes do not make a valid contract; see errors.", errors=problems)
    return edited


class TimerAction(StrEnum):
    RENEW = "renew"
    EXPIRE = "expire"


@dataclass(frozen=True)
class Timer:
    action: TimerAction
    due: date


def next_timer(contract: Contract, *, today: date) -> Timer | None:
    """The one pending timer of a contract as it is written today (None once it is final).

    A renewal due in the past (a contract entered late in its term) is due today: the index is then only
    ever written at or after the day it is set, which the job's look-back relies on.
    """
    if contract.status is not ContractStatus.ACTIVE:
        return None
    if contract.renewal_deal_id is None:
        return Timer(TimerAction.RENEW, max(contract.renewal_due_on, today))
    return Timer(TimerAction.EXPIRE, max(contract.end_date + timedelta(days=1), today))


def expire(contract: Contract, *, now: datetime) -> Contract:
    CONTRACT_STATUS.check(contract.status, ContractStatus.EXPIRED)
    return contract.model_copy(update={"status": ContractStatus.EXPIRED, "expired_at": now})


def terminate(contract: Contract, termination: Termination, *, now: datetime) -> Contract:
    CONTRACT_STATUS.check(contract.status, ContractStatus.TERMINATED)
    return contract.model_copy(
        update={
            "status": ContractStatus.TERMINATED,
            "termination_reason": termination.reason,
            "terminated_at": now,
        }
    )


@dataclass(frozen=True)
class RenewalDeal:
    """What the renewal job asks the deals store to create for a contract."""

    deal_id: str
    name: str
    account_id: str
    contact_id: str | None
    owner_id: str
    amount: Decimal
    currency: str
    close_date: date
    renewal_of: str  # contract id


def renewal_deal(contract: Contract) -> RenewalDeal:
    """The deal that renews a contract: same account, owner and value, expected to close by its end."""
    return RenewalDeal(
        deal_id=renewal_deal_id(contract.contract_id),
        name=f"Renewal: {contract.name}",
        account_id=contract.account_id,
        contact_id=contract.contact_id,
        owner_id=contract.owner_id,
        amount=contract.value,
        currency=contract.currency,
        close_date=contract.end_date,
        renewal_of=contract.contract_id,
    )

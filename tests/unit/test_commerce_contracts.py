"""Contract dates: when a renewal is due, the one pending timer, and the contract an order creates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from crm.commerce import contracts, orders
from crm.commerce.contracts import (
    Contract,
    ContractInput,
    ContractStatus,
    Termination,
    Timer,
    TimerAction,
    contract_from_order,
    next_timer,
    renewal_deal,
)
from crm.commerce.pricing import price_line, totals
from crm.commerce.states import InvalidTransition
from leadstream.errors import InvalidInput

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def _contract(**overrides: object) -> Contract:
    fields: dict[str, object] = {
        "contract_id": "c1",
        "order_id": "o1",
        "name": "Platform 2026",
        "account_id": "acc-1",
        "owner_id": "rep-1",
        "start_date": date(2026, 1, 1),
        "end_date": date(2026, 12, 31),
        "value": Decimal("12000.00"),
        "currency": "EUR",
        "renewal_lead_days": 60,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Contract.model_validate(fields | overrides)


def _order(status: str = "confirmed") -> orders.Order:
    line = price_line(currency="EUR", description="Seat", quantity=Decimal(10), unit_price=Decimal("99.5"))
    return orders.Order(
        order_id="o1",
        status=orders.OrderStatus(status),
        name="Seats",
        account_id="acc-1",
        owner_id="rep-1",
        currency="EUR",
        lines=[line],
        totals=totals([line], "EUR"),
        terms="Net 30",
        created_at=NOW,
        updated_at=NOW,
    )


def test_renewal_is_due_the_lead_time_before_the_end() -> None:
    contract = _contract()
    assert contract.renewal_due_on == date(2026, 11, 1)
    assert contract.model_dump(by_alias=True, mode="json")["renewalDueOn"] == "2026-11-01"
    assert next_timer(contract, today=TODAY) == Timer(TimerAction.RENEW, date(2026, 11, 1))


def test_a_renewal_already_due_when_the_contract_is_written_is_due_that_day() -> None:
    late = _contract(end_date=date(2026, 3, 20))  # 60 days before that is in January
    assert next_timer(late, today=TODAY) == Timer(TimerAction.RENEW, TODAY)


def test_after_the_renewal_deal_the_timer_expires_the_contract_the_day_after_its_end() -> None:
    renewed = _contract(renewal_deal_id="deal-1")
    assert next_timer(renewed, today=TODAY) == Timer(TimerAction.EXPIRE, date(2027, 1, 1))


@pytest.mark.parametrize("status", ["terminated", "expired"])
def test_a_final_contract_has_no_timer(status: str) -> None:
    assert next_timer(_contract(status=status), today=TODAY) is None


@pytest.mark.parametrize(
    ("today", "up"),
    [
        (date(2026, 10, 31), False),
        (date(2026, 11, 1), True),
        (date(2026, 12, 31), True),  # the last day of the contract
        (date(2027, 1, 1), False),
    ],
)
def test_up_for_renewal_window(today: date, up: bool) -> None:
    assert _contract().up_for_renewal(today) is up


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    length=st.integers(min_value=0, max_value=3000),
    lead=st.integers(min_value=1, max_value=contracts.MAX_RENEWAL_LEAD_DAYS),
    written=st.integers(min_value=0, max_value=4000),
    renewed=st.booleans(),
)
def test_the_timer_is_never_before_the_day_it_is_written_nor_after_it_could_matter(
    start: date, length: int, lead: int, written: int, renewed: bool
) -> None:
    end = start + timedelta(days=length)
    today = start + timedelta(days=written)
    contract = _contract(
        start_date=start, end_date=end, renewal_lead_days=lead, renewal_deal_id="d" if renewed else None
    )
    timer = next_timer(contract, today=today)
    assert timer is not None
    assert timer.due >= today
    if timer.action is TimerAction.RENEW:
        assert timer.due == max(end - timedelta(days=lead), today)
    else:
        assert timer.due == max(end + timedelta(days=1), today)


def test_an_order_creates_its_contract_with_the_order_total_by_default() -> None:
    data = ContractInput.model_validate({"startDate": "2026-03-01", "endDate": "2027-02-28"})
    contract = contract_from_order(_order(), data, default_lead_days=45, now=NOW)
    assert contract.contract_id == contracts.contract_id_for_order("o1")
    assert (contract.value, contract.currency, contract.terms) == (Decimal("995.00"), "EUR", "Net 30")
    assert contract.renewal_lead_days == 45
    assert contract.status is ContractStatus.ACTIVE


def test_a_cancelled_order_creates_no_contract() -> None:
    data = ContractInput.model_validate({"startDate": "2026-03-01", "endDate": "2027-02-28"})
    with pytest.raises(InvalidTransition, match="cancelled"):
        contract_from_order(_order("cancelled"), data, default_lead_days=60, now=NOW)


def test_a_contract_that_already_ended_or_ends_before_it_starts_is_refused() -> None:
    ended = ContractInput.model_validate({"startDate": "2025-01-01", "endDate": "2026-03-01"})
    with pytest.raises(InvalidInput, match="already passed"):
        contract_from_order(_order(), ended, default_lead_days=60, now=NOW)
    with pytest.raises(ValidationError, match="endDate must be on or after startDate"):
        ContractInput.model_validate({"startDate": "2026-05-01", "endDate": "2026-04-30"})


def test_a_value_finer_than_the_currency_is_refused() -> None:
    data = ContractInput.model_validate(
        {"startDate": "2026-03-01", "endDate": "2027-02-28", "value": "10.005"}
    )
    with pytest.raises(InvalidInput) as refused:
        contract_from_order(_order(), data, default_lead_days=60, now=NOW)
    assert refused.value.errors == [{"field": "value", "message": "EUR amounts have at most 2 decimals"}]


def test_termination_needs_a_reason_and_is_final() -> None:
    with pytest.raises(ValidationError):
        Termination.model_validate({"reason": ""})
    ended = contracts.terminate(_contract(), Termination(reason="Customer went bankrupt"), now=NOW)
    assert (ended.status, ended.termination_reason, ended.terminated_at) == (
        ContractStatus.TERMINATED,
        "Customer went bankrupt",
        NOW,
    )
    with pytest.raises(InvalidTransition, match="final"):
        contracts.expire(ended, now=NOW)
    with pytest.raises(InvalidTransition, match="cannot be edited"):
        contracts.edit(ended, contracts.ContractChanges(name="x"))


def test_the_renewal_deal_of_a_contract() -> None:
    deal = renewal_deal(_contract())
    assert deal.deal_id == contracts.renewal_deal_id("c1") == renewal_deal(_contract()).deal_id
    assert deal.deal_id != contracts.renewal_deal_id("c2")
    assert (deal.name, deal.amount, deal.close_date, deal.owner_id, deal.renewal_of) == (
        "Renewal: Platform 2026",
        Decimal("12000.00"),
        date(2026, 12, 31),
        "rep-1",
        "c1",
    )

"""The status state machines of quotes, orders, contracts and tickets: every pair, allowed or a 409."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

import pytest

from crm.commerce import orders, quotes, tickets
from crm.commerce.contracts import CONTRACT_STATUS, ContractStatus
from crm.commerce.orders import ORDER_STATUS, OrderStatus
from crm.commerce.pricing import price_line, totals
from crm.commerce.quotes import QUOTE_STATUS, Quote, QuoteChanges, QuoteStatus
from crm.commerce.states import InvalidTransition, StateMachine
from crm.commerce.tickets import TICKET_STATUS, TicketStatus
from leadstream.errors import InvalidInput

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()

ALLOWED: dict[str, set[tuple[str, str]]] = {
    "quote": {("draft", "sent"), ("sent", "accepted"), ("sent", "rejected"), ("sent", "expired")},
    "order": {("confirmed", "fulfilled"), ("confirmed", "cancelled")},
    "contract": {("active", "terminated"), ("active", "expired")},
    "ticket": {
        *(("new", target) for target in ("open", "pending", "resolved", "closed")),
        *(("open", target) for target in ("pending", "resolved", "closed")),
        *(("pending", target) for target in ("open", "resolved", "closed")),
        ("resolved", "open"),
        ("resolved", "closed"),
    },
}
MACHINES: list[tuple[StateMachine[StrEnum], type[StrEnum]]] = [
    (QUOTE_STATUS, QuoteStatus),  # type: ignore[list-item]
    (ORDER_STATUS, OrderStatus),  # type: ignore[list-item]
    (CONTRACT_STATUS, ContractStatus),  # type: ignore[list-item]
    (TICKET_STATUS, TicketStatus),  # type: ignore[list-item]
]
PAIRS = [
    (machine, source, target)
    for machine, statuses in MACHINES
    for source, target in itertools.product(list(statuses), repeat=2)
]


@pytest.mark.parametrize(("machine", "source", "target"), PAIRS)
def test_every_transition_is_allowed_exactly_as_documented(
    machine: StateMachine[StrEnum], source: StrEnum, target: StrEnum
) -> None:
    if (source.value, target.value) in ALLOWED[machine.entity]:
        assert machine.check(source, target) is target
        return
    with pytest.raises(InvalidTransition) as refused:
        machine.check(source, target)
    assert refused.value.status == 409
    allowed = sorted(t for s, t in ALLOWED[machine.entity] if s == source.value)
    hint = refused.value.errors[0]["message"]
    assert hint == f"allowed from {source.value}: {', '.join(allowed) or 'none'}"
    for name in allowed:
        assert name in refused.value.detail
    if not allowed:
        assert "final" in refused.value.detail


def test_the_refusal_reads_well() -> None:
    with pytest.raises(InvalidTransition) as refused:
        QUOTE_STATUS.check(QuoteStatus.DRAFT, QuoteStatus.ACCEPTED)
    assert refused.value.detail == "A quote that is draft cannot become accepted; it can become sent."
    with pytest.raises(InvalidTransition) as refused:
        QUOTE_STATUS.check(QuoteStatus.SENT, QuoteStatus.DRAFT)
    assert refused.value.detail.endswith("it can become accepted, expired or rejected.")


def _quote(**overrides: object) -> Quote:
    line = price_line(currency="EUR", description="Seat", quantity=Decimal(2), unit_price=Decimal("10"))
    fields: dict[str, object] = {
        "quote_id": "q1",
        "name": "Offer",
        "account_id": "acc-1",
        "owner_id": "owner-1",
        "currency": "EUR",
        "valid_until": date(2026, 3, 31),
        "lines": [line],
        "totals": totals([line], "EUR"),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Quote.model_validate(fields | overrides)


def test_sending_stamps_the_time_and_needs_lines_and_a_future_validity() -> None:
    sent = quotes.transition(_quote(), QuoteStatus.SENT, today=TODAY, now=NOW)
    assert (sent.status, sent.sent_at) == (QuoteStatus.SENT, NOW)
    with pytest.raises(InvalidInput, match="at least one line"):
        quotes.transition(_quote(lines=[]), QuoteStatus.SENT, today=TODAY, now=NOW)
    with pytest.raises(InvalidInput, match="validUntil"):
        quotes.transition(_quote(valid_until=date(2026, 3, 1)), QuoteStatus.SENT, today=TODAY, now=NOW)


def test_a_quote_past_its_validity_cannot_be_accepted_but_can_expire() -> None:
    sent = _quote(status="sent", valid_until=date(2026, 3, 1))
    with pytest.raises(InvalidTransition, match="valid until 2026-03-01"):
        quotes.transition(sent, QuoteStatus.ACCEPTED, today=TODAY, now=NOW)
    expired = quotes.transition(sent, QuoteStatus.EXPIRED, today=TODAY, now=NOW)
    assert (expired.status, expired.decided_at) == (QuoteStatus.EXPIRED, NOW)


def test_a_draft_is_edited_in_place() -> None:
    edited, archived = quotes.edit(_quote(), QuoteChanges(name="Better offer"), None)
    assert archived is None
    assert (edited.name, edited.revision, edited.status) == ("Better offer", 1, QuoteStatus.DRAFT)


def test_editing_a_sent_quote_keeps_it_and_starts_the_next_revision() -> None:
    sent = _quote(status="sent", sent_at=NOW)
    line = price_line(currency="EUR", description="Seat", quantity=Decimal(3), unit_price=Decimal("10"))
    edited, archived = quotes.edit(sent, QuoteChanges.model_validate({"lines": []}), [line])
    assert archived == sent  # kept exactly as the customer received it
    assert (edited.revision, edited.status, edited.sent_at) == (2, QuoteStatus.DRAFT, None)
    assert edited.totals.total == Decimal("30.00")


@pytest.mark.parametrize("status", ["accepted", "rejected", "expired"])
def test_a_decided_quote_cannot_be_edited(status: str) -> None:
    with pytest.raises(InvalidTransition, match="final"):
        quotes.edit(_quote(status=status), QuoteChanges(name="x"), None)


def test_changing_the_currency_needs_the_lines_again() -> None:
    with pytest.raises(InvalidInput, match="currency"):
        quotes.edit(_quote(), QuoteChanges.model_validate({"currency": "usd"}), None)


def test_an_explicit_null_for_a_required_field_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        quotes.edit(_quote(), QuoteChanges.model_validate({"name": None}), None)


def test_an_accepted_quote_becomes_one_order_with_its_exact_lines() -> None:
    accepted = _quote(status="accepted", revision=3)
    order = orders.order_from_quote(accepted, now=NOW)
    assert order.order_id == quotes.order_id_for_quote("q1")  # derived, not random
    assert (order.status, order.quote_revision, order.lines, order.totals) == (
        OrderStatus.CONFIRMED,
        3,
        accepted.lines,
        accepted.totals,
    )


def test_a_repeat_order_copies_the_lines_as_a_new_confirmed_order() -> None:
    original = orders.transition(
        orders.order_from_quote(_quote(status="accepted"), now=NOW), OrderStatus.FULFILLED, now=NOW
    )
    repeat = orders.repeat_order(
        original, orders.RepeatOrderInput(), order_id="o2", owner_id="owner-2", now=NOW
    )
    assert (repeat.order_id, repeat.status, repeat.repeat_of, repeat.owner_id) == (
        "o2",
        OrderStatus.CONFIRMED,
        original.order_id,
        "owner-2",
    )
    assert repeat.lines == original.lines
    assert repeat.totals == original.totals
    assert repeat.quote_id is None
    assert repeat.fulfilled_at is None


def test_accepting_stamps_the_decision_and_names_the_order() -> None:
    accepted = quotes.transition(_quote(status="sent"), QuoteStatus.ACCEPTED, today=TODAY, now=NOW)
    assert (accepted.decided_at, accepted.order_id) == (NOW, quotes.order_id_for_quote("q1"))


def test_ticket_resolution_and_reopening() -> None:
    ticket = tickets.Ticket.model_validate(
        {"ticketId": "t1", "subject": "Login fails", "accountId": "acc-1", "ownerId": "rep-1"}
        | {"createdAt": NOW, "updatedAt": NOW}
    )
    assert (ticket.status, ticket.priority) == ("new", "normal")
    resolved = tickets.transition(
        ticket, tickets.TicketTransition(status=TicketStatus.RESOLVED, resolution="reset"), now=NOW
    )
    assert (resolved.resolution, resolved.resolved_at) == ("reset", NOW)
    reopened = tickets.transition(resolved, tickets.TicketTransition(status=TicketStatus.OPEN), now=NOW)
    assert (reopened.status, reopened.resolved_at) == (TicketStatus.OPEN, None)


def test_a_ticket_needs_an_account_or_a_contact() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="accountId, a contactId"):
        tickets.TicketFields.model_validate({"subject": "Orphan"})

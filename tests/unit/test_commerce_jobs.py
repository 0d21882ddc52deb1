"""The renewal and digest runs on in-memory stores: what is done once, what is skipped, what is retried."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm.commerce.contracts import Contract, ContractStatus, RenewalDeal, Timer, TimerAction, renewal_deal_id
from crm.commerce.digest import DigestItem, Email, Owner
from crm.commerce.digest_run import run_digests
from crm.commerce.renewals import TimerEntry, run_renewals

TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)


def _contract(contract_id: str, end: date, **overrides: object) -> Contract:
    fields: dict[str, object] = {
        "contract_id": contract_id,
        "order_id": f"order-{contract_id}",
        "name": f"Contract {contract_id}",
        "account_id": "acc-1",
        "owner_id": "rep-1",
        "start_date": date(2026, 1, 1),
        "end_date": end,
        "value": Decimal("100.00"),
        "currency": "EUR",
        "renewal_lead_days": 60,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Contract.model_validate(fields | overrides)


@dataclass
class Fakes:
    contracts: dict[str, Contract] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    deals: dict[str, RenewalDeal] = field(default_factory=dict)
    saves: list[str] = field(default_factory=list)

    # TimerStore
    def due(self, today: date) -> Iterable[TimerEntry]:
        return [TimerEntry(cid, t.action, t.due) for cid, t in sorted(self.timers.items()) if t.due <= today]

    def set(self, contract_id: str, timer: Timer | None) -> None:
        if timer is None:
            self.timers.pop(contract_id, None)
        else:
            self.timers[contract_id] = timer

    # ContractStore
    def get(self, contract_id: str) -> Contract | None:
        return self.contracts.get(contract_id)

    def save(self, before: Contract, after: Contract, action: str) -> Contract:
        assert self.contracts[before.contract_id] == before, "a stale save"
        self.contracts[after.contract_id] = after
        self.saves.append(f"{action}:{after.contract_id}")
        return after

    # DealStore
    def create_once(self, deal: RenewalDeal) -> bool:
        if deal.deal_id in self.deals:
            return False
        self.deals[deal.deal_id] = deal
        return True

    def add(self, contract: Contract, timer: Timer) -> None:
        self.contracts[contract.contract_id] = contract
        self.timers[contract.contract_id] = timer

    def run(self, today: date = TODAY) -> dict[str, int]:
        return run_renewals(today=today, now=NOW, timers=self, contracts=self, deals=self).summary()


def test_a_due_contract_gets_one_renewal_deal_and_waits_for_its_expiry() -> None:
    fakes = Fakes()
    fakes.add(_contract("c1", date(2026, 12, 31)), Timer(TimerAction.RENEW, date(2026, 11, 1)))
    fakes.add(_contract("c2", date(2027, 6, 30)), Timer(TimerAction.RENEW, date(2027, 5, 1)))

    assert fakes.run() == {
        "renewalsCreated": 1,
        "renewalsExisting": 0,
        "expired": 0,
        "rescheduled": 1,
        "dropped": 0,
        "refused": 0,
    }
    deal = fakes.deals[renewal_deal_id("c1")]
    assert (deal.close_date, deal.amount, deal.renewal_of) == (date(2026, 12, 31), Decimal("100.00"), "c1")
    assert fakes.contracts["c1"].renewal_deal_id == deal.deal_id
    assert fakes.timers["c1"] == Timer(TimerAction.EXPIRE, date(2027, 1, 1))
    assert "c2" not in {d.renewal_of for d in fakes.deals.values()}

    assert fakes.run() == {
        "renewalsCreated": 0,
        "renewalsExisting": 0,
        "expired": 0,
        "rescheduled": 0,
        "dropped": 0,
        "refused": 0,
    }
    assert len(fakes.deals) == 1


def test_a_rerun_after_the_deal_but_before_the_contract_was_saved_finds_the_deal() -> None:
    fakes = Fakes()
    contract = _contract("c1", date(2026, 12, 31))
    fakes.add(contract, Timer(TimerAction.RENEW, date(2026, 11, 1)))
    fakes.create_once(_deal_of(contract))  # the first run died right after creating it

    summary = fakes.run()
    assert (summary["renewalsCreated"], summary["renewalsExisting"]) == (0, 1)
    assert len(fakes.deals) == 1
    assert fakes.contracts["c1"].renewal_deal_id == renewal_deal_id("c1")


def test_a_contract_past_its_end_is_renewed_and_expired_in_one_wake() -> None:
    fakes = Fakes()
    fakes.add(_contract("c1", date(2026, 10, 31)), Timer(TimerAction.RENEW, date(2026, 9, 1)))
    summary = fakes.run()
    assert (summary["renewalsCreated"], summary["expired"], summary["dropped"]) == (1, 1, 1)
    assert fakes.contracts["c1"].status is ContractStatus.EXPIRED
    assert "c1" not in fakes.timers
    assert fakes.saves == ["renewal-created:c1", "expired:c1"]


def test_an_early_timer_is_moved_and_a_stale_one_dropped() -> None:
    fakes = Fakes()
    # the end date was moved later after the timer was set: wake early, do nothing, sleep again
    fakes.add(_contract("c1", date(2027, 12, 31)), Timer(TimerAction.RENEW, date(2026, 11, 1)))
    fakes.add(_contract("c2", date(2026, 12, 31), status="terminated"), Timer(TimerAction.RENEW, TODAY))
    fakes.timers["gone"] = Timer(TimerAction.RENEW, TODAY)

    summary = fakes.run()
    assert (summary["renewalsCreated"], summary["rescheduled"], summary["dropped"]) == (0, 1, 2)
    assert fakes.timers == {"c1": Timer(TimerAction.RENEW, date(2027, 11, 1))}
    assert fakes.deals == {}


def test_a_refused_contract_is_reported_and_the_others_still_run() -> None:
    from leadstream.errors import InvalidInput

    class Refusing(Fakes):
        def create_once(self, deal: RenewalDeal) -> bool:
            if deal.renewal_of == "c1":
                raise InvalidInput("No account acc-1.")
            return super().create_once(deal)

    fakes = Refusing()
    fakes.add(_contract("c1", date(2026, 12, 31)), Timer(TimerAction.RENEW, date(2026, 11, 1)))
    fakes.add(_contract("c2", date(2026, 12, 30)), Timer(TimerAction.RENEW, date(2026, 11, 1)))
    summary = fakes.run()
    assert (summary["renewalsCreated"], summary["refused"]) == (1, 1)
    assert fakes.timers["c1"] == Timer(TimerAction.RENEW, date(2026, 11, 1))  # tried again tomorrow


def _deal_of(contract: Contract) -> RenewalDeal:
    from crm.commerce.contracts import renewal_deal

    return renewal_deal(contract)


@dataclass
class FakeMail:
    owners_list: list[Owner]
    items: dict[str, list[DigestItem]] = field(default_factory=dict)
    claims: set[tuple[str, date]] = field(default_factory=set)
    sent: list[tuple[str, Email]] = field(default_factory=list)
    fail_for: str | None = None

    def owners(self) -> Iterable[Owner]:
        return self.owners_list

    def tasks_due(self, owner_id: str, today: date) -> list[DigestItem]:
        return self.items.get(owner_id, [])

    def deals_closing(self, owner_id: str, today: date) -> list[DigestItem]:
        return []

    def renewals(self, owner_id: str, today: date) -> list[DigestItem]:
        return []

    def claim(self, owner_id: str, day: date) -> bool:
        if (owner_id, day) in self.claims:
            return False
        self.claims.add((owner_id, day))
        return True

    def release(self, owner_id: str, day: date) -> None:
        self.claims.discard((owner_id, day))

    def send(self, to: str, email: Email) -> str:
        if to == self.fail_for:
            raise ConnectionError("SES unreachable")
        self.sent.append((to, email))
        return f"msg-{len(self.sent)}"


def test_each_owner_with_something_to_do_gets_one_digest_per_day() -> None:
    ann, bob = Owner("u-ann", "ann@example.com"), Owner("u-bob", "bob@example.com")
    mail = FakeMail([ann, bob], items={"u-ann": [DigestItem("t1", "Call Acme", TODAY)]})

    first = run_digests(today=TODAY, sources=mail, outbox=mail)
    assert first.sent == {"u-ann": "msg-1"}
    assert first.nothing_to_say == ["u-bob"]
    again = run_digests(today=TODAY, sources=mail, outbox=mail)
    assert (again.sent, again.already_sent) == ({}, ["u-ann"])
    tomorrow = run_digests(today=TODAY + timedelta(days=1), sources=mail, outbox=mail)
    assert list(tomorrow.sent) == ["u-ann"]
    assert [to for to, _ in mail.sent] == ["ann@example.com", "ann@example.com"]


def test_a_failed_send_releases_its_claim_so_the_retry_sends_it() -> None:
    ann = Owner("u-ann", "ann@example.com")
    mail = FakeMail(
        [ann], items={"u-ann": [DigestItem("t1", "Call Acme", TODAY)]}, fail_for="ann@example.com"
    )
    with pytest.raises(ConnectionError):
        run_digests(today=TODAY, sources=mail, outbox=mail)
    assert mail.claims == set()
    mail.fail_for = None
    assert list(run_digests(today=TODAY, sources=mail, outbox=mail).sent) == ["u-ann"]

"""The daily renewal job: wake every contract whose timer is due, create its renewal deal or expire it.

The job reads due timers from an index (never a Scan) and always re-reads the contract, which is the
truth: a timer is only a wake-up call. So a timer that is early (an edit moved the end date later), or
points at a contract that is gone or already final, is simply moved or dropped. The renewal deal's id is
derived from the contract's id and created only if absent, so reruns and overlapping runs create exactly
one deal per contract (docs/commerce.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from crm.commerce.contracts import Contract, RenewalDeal, Timer, TimerAction, expire, next_timer, renewal_deal
from leadstream.errors import LeadstreamError


@dataclass(frozen=True)
class TimerEntry:
    """A timer as the index holds it."""

    contract_id: str
    action: TimerAction
    due: date


class TimerStore(Protocol):
    def due(self, today: date) -> Iterable[TimerEntry]: ...

    def set(self, contract_id: str, timer: Timer | None) -> None: ...


class ContractStore(Protocol):
    def get(self, contract_id: str) -> Contract | None: ...

    def save(self, before: Contract, after: Contract, action: str) -> Contract:
        """Store `after` if `before` is still current; raises if someone changed it meanwhile."""
        ...


class DealStore(Protocol):
    def create_once(self, deal: RenewalDeal) -> bool:
        """Create the deal unless a deal with its id exists; True if this call created it."""
        ...


@dataclass
class RenewalRun:
    renewals_created: list[str] = field(default_factory=list)  # contract ids
    renewals_existing: list[str] = field(default_factory=list)  # the deal was there already (a rerun)
    expired: list[str] = field(default_factory=list)
    rescheduled: int = 0
    dropped: int = 0
    # Contracts whose turn was refused (say, their account was deleted): reported, retried next run.
    refused: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {
            "renewalsCreated": len(self.renewals_created),
            "renewalsExisting": len(self.renewals_existing),
            "expired": len(self.expired),
            "rescheduled": self.rescheduled,
            "dropped": self.dropped,
            "refused": len(self.refused),
        }


def run_renewals(
    *, today: date, now: datetime, timers: TimerStore, contracts: ContractStore, deals: DealStore
) -> RenewalRun:
    run = RenewalRun()
    for entry in list(timers.due(today)):
        try:
            wake(entry, today=today, now=now, timers=timers, contracts=contracts, deals=deals, run=run)
        except LeadstreamError as refused:
            # One contract's problem must not hold up the others; its timer stays, so it is retried.
            # (A storage failure is not a LeadstreamError: it fails the run, which is safe to rerun.)
            run.refused[entry.contract_id] = refused.detail
    return run


def wake(
    entry: TimerEntry,
    *,
    today: date,
    now: datetime,
    timers: TimerStore,
    contracts: ContractStore,
    deals: DealStore,
    run: RenewalRun,
) -> None:
    """Do whatever is due for one contract (a renewal, then possibly its expiry), then set its next timer."""
    contract = contracts.get(entry.contract_id)
    timer = next_timer(contract, today=today) if contract is not None else None
    while contract is not None and timer is not None and timer.due <= today:
        if timer.action is TimerAction.RENEW:
            deal = renewal_deal(contract)
            created = deals.create_once(deal)
            (run.renewals_created if created else run.renewals_existing).append(contract.contract_id)
            renewed = contract.model_copy(update={"renewal_deal_id": deal.deal_id})
            contract = contracts.save(contract, renewed, "renewal-created")
        else:
            contract = contracts.save(contract, expire(contract, now=now), "expired")
            run.expired.append(contract.contract_id)
        timer = next_timer(contract, today=today)
    if timer is None:
        run.dropped += 1
    elif (timer.action, timer.due) != (entry.action, entry.due):
        run.rescheduled += 1
    timers.set(entry.contract_id, timer)

"""CRM outcomes back to the person: deals and orders move the person's lifecycle stage and add revenue to
the person and the account.

- a deal opened for a contact whose person is known moves the person forward to `opportunity`;
- a deal won moves them to `customer` (forward only, never over `other`: scoring.stages.move_forward);
- a deal lost, when the person has no other open deal, recycles them to nurture (scoring.stages.recycle:
  stage `lead`, engagement reset) with the deal's name and loss reason;
- revenue is what the records say was realized: a won deal's amount (a renewal deal's as `renewals`),
  an order's net (as `orders`) unless it is the order of a deal (the deal's amount counts for it; a
  repeat order counts). A record's contribution is recomputed from its before and after image and only
  the difference is added, so a deal reopened, a won amount corrected or an order cancelled takes its
  revenue back.

Each change's effects are one transaction with the change's marker (closedloop.store.loop.commit).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from closedloop.store import loop as store
from crm.sync_records import get_contacts
from leadstream import clock
from leadstream.profiles import Profile, iso_utc
from leadstream.scores import Stage
from leadstream.store.profiles import live_profile
from scoring.stages import move_forward, recycle

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MAX_ATTEMPTS = 5
BY = "crm"  # who moved the stage, as the profile's stage history says
LOSS_REASON_FIELDS = ("lossReason", "lostReason")

# (currency, source) -> amount
Contribution = dict[tuple[str, str], Decimal]


@dataclass(frozen=True)
class Deal:
    """What the loop reads of a deal image."""

    deal_id: str
    name: str
    contact_id: str | None
    account_id: str | None
    outcome: str
    contribution: Contribution
    loss_reason: str | None

    @classmethod
    def of(cls, image: Mapping[str, Any]) -> Deal:
        custom = image.get("customFields") if isinstance(image.get("customFields"), dict) else {}
        assert isinstance(custom, dict)
        outcome = str(image.get("outcome", "open"))
        source = "renewals" if custom.get("renewalOf") else "deals"
        amount, currency = _decimal(image.get("amount")), image.get("currency")
        won = outcome == "won" and amount is not None and isinstance(currency, str)
        reason = next((str(custom[name])[:200] for name in LOSS_REASON_FIELDS if custom.get(name)), None)
        return cls(
            deal_id=str(image["dealId"]),
            name=str(image.get("name", "")),
            contact_id=_text(image.get("contactId")),
            account_id=_text(image.get("accountId")),
            outcome=outcome,
            contribution={(str(currency), source): amount} if won and amount is not None else {},
            loss_reason=reason,
        )


@dataclass(frozen=True)
class Order:
    order_id: str
    name: str
    contact_id: str | None
    account_id: str | None
    counted: bool
    contribution: Contribution

    @classmethod
    def of(cls, image: Mapping[str, Any]) -> Order:
        totals = image.get("totals") if isinstance(image.get("totals"), dict) else {}
        assert isinstance(totals, dict)
        net, currency = _decimal(totals.get("net")), image.get("currency")
        # The first order of a deal realizes that deal (its amount counted when won); a repeat, or an order
        # without a deal, is revenue of its own. A cancelled order counts nothing.
        counted = image.get("status") != "cancelled" and (
            not image.get("dealId") or bool(image.get("repeatOf"))
        )
        ok = counted and net is not None and isinstance(currency, str)
        return cls(
            order_id=str(image["orderId"]),
            name=str(image.get("name", "")),
            contact_id=_text(image.get("contactId")),
            account_id=_text(image.get("accountId")),
            counted=counted,
            contribution={(str(currency), "orders"): net} if ok and net is not None else {},
        )


@dataclass
class Plan:
    """What one change does: transaction items, and what it decided (for logs and tests)."""

    items: list[TransactWriteItemTypeDef] = field(default_factory=list)
    moves: list[tuple[str, Stage]] = field(default_factory=list)


# --- deals ----------------------------------------------------------------------------------------------
def on_deal(change_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Plan:
    """Apply one deal change exactly once (retried on a lost race); the plan that was committed, or an
    empty plan when there was nothing to do or it was applied before."""
    for _ in range(MAX_ATTEMPTS):
        plan = plan_deal(old, new)
        if not plan.items:
            return plan
        try:
            return plan if store.commit(change_id, plan.items) else Plan()
        except store.LostRace:
            continue
    raise store.LostRace(change_id)


def plan_deal(old_image: Mapping[str, Any] | None, new_image: Mapping[str, Any] | None) -> Plan:
    before = Deal.of(old_image) if old_image else None
    after = Deal.of(new_image) if new_image else None
    deal = after or before
    assert deal is not None
    people = _people([d.contact_id for d in (before, after) if d is not None and d.contact_id])
    old_person = people.get(before.contact_id) if before and before.contact_id else None
    new_person = people.get(after.contact_id) if after and after.contact_id else None
    plan = Plan()
    _revenue(plan, before, after, old_person, new_person)
    was_open = before is not None and before.outcome == "open"
    is_open = after is not None and after.outcome == "open"
    old_id = old_person.profile_id if old_person else None
    new_id = new_person.profile_id if new_person else None
    lost_here = after is not None and after.outcome == "lost" and old_id == new_id  # handled by _lost
    if old_id and was_open and (not is_open or old_id != new_id) and not lost_here:
        plan.items.append(store.open_deal_update(old_id, deal.deal_id, add=False, expected_revision=None))
    if new_person is None or after is None:
        return plan
    moved = old_id != new_id
    at, profile = iso_utc(clock.now()), new_person.model_copy(deep=True)
    changed = False
    if is_open and (moved or not was_open):
        plan.items.append(
            store.open_deal_update(profile.profile_id, deal.deal_id, add=True, expected_revision=None)
        )
        changed = move_forward(profile, Stage.OPPORTUNITY, at=at, by=BY, reason=f"deal opened: {deal.name}")
    elif after.outcome == "won" and (moved or before is None or before.outcome != "won"):
        changed = move_forward(profile, Stage.CUSTOMER, at=at, by=BY, reason=f"deal won: {deal.name}")
    elif after.outcome == "lost" and (moved or before is None or before.outcome != "lost"):
        changed = _lost(plan, profile, after, was_open and not moved, at)
    if changed:
        plan.items.append(store.profile_put(profile, new_person.version))
        plan.moves.append((profile.profile_id, profile.stage or Stage.LEAD))
    return plan


def _lost(plan: Plan, profile: Profile, deal: Deal, was_open: bool, at: str) -> bool:
    """Take the deal from the person's open deals; recycle the person if none is left. The decision is
    conditioned on the open deals read (their revision), so a deal opened meanwhile is never missed."""
    current = store.open_deals(profile.profile_id)
    others = current.deals - {deal.deal_id}
    if was_open or deal.deal_id in current.deals:
        plan.items.append(
            store.open_deal_update(
                profile.profile_id, deal.deal_id, add=False, expected_revision=current.revision
            )
        )
    if others:
        return False
    reason = f"deal lost: {deal.name}" + (f" ({deal.loss_reason})" if deal.loss_reason else "")
    return recycle(profile, at=at, by=BY, reason=reason)


# --- orders ---------------------------------------------------------------------------------------------
def on_order(change_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Plan:
    for _ in range(MAX_ATTEMPTS):
        plan = plan_order(old, new)
        if not plan.items:
            return plan
        try:
            return plan if store.commit(change_id, plan.items) else Plan()
        except store.LostRace:
            continue
    raise store.LostRace(change_id)


def plan_order(old_image: Mapping[str, Any] | None, new_image: Mapping[str, Any] | None) -> Plan:
    before = Order.of(old_image) if old_image else None
    after = Order.of(new_image) if new_image else None
    people = _people([o.contact_id for o in (before, after) if o is not None and o.contact_id])
    old_person = people.get(before.contact_id) if before and before.contact_id else None
    new_person = people.get(after.contact_id) if after and after.contact_id else None
    plan = Plan()
    _revenue(plan, before, after, old_person, new_person)
    newly_counted = after is not None and after.counted and (before is None or not before.counted)
    if new_person is not None and after is not None and newly_counted:
        profile = new_person.model_copy(deep=True)
        reason = f"order confirmed: {after.name}"
        if move_forward(profile, Stage.CUSTOMER, at=iso_utc(clock.now()), by=BY, reason=reason):
            plan.items.append(store.profile_put(profile, new_person.version))
            plan.moves.append((profile.profile_id, Stage.CUSTOMER))
    return plan


# --- shared ---------------------------------------------------------------------------------------------
def _revenue(
    plan: Plan,
    before: Deal | Order | None,
    after: Deal | Order | None,
    old_person: Profile | None,
    new_person: Profile | None,
) -> None:
    """Add the difference of the record's contributions to the people and accounts it belongs to."""
    deltas: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for record, person, sign in ((before, old_person, -1), (after, new_person, 1)):
        if record is None:
            continue
        for (currency, source), amount in record.contribution.items():
            if person is not None:
                deltas[("PROFILE", person.profile_id, currency)][source] += sign * amount
            if record.account_id:
                deltas[("ACCOUNT", record.account_id, currency)][source] += sign * amount
    for (scope, owner, currency), amounts in sorted(deltas.items()):
        nonzero = {source: amount for source, amount in amounts.items() if amount != 0}
        if nonzero:
            plan.items.append(store.revenue_update(scope, owner, currency, nonzero))


def _people(contact_ids: list[str]) -> dict[str, Profile]:
    """contactId -> the live profile of the contact's person, for the contacts that have one."""
    if not contact_ids:
        return {}
    found = {}
    for contact_id, contact in get_contacts(contact_ids).items():
        if contact.profile_id:
            profile = live_profile(contact.profile_id)
            if profile is not None:
                found[contact_id] = profile
    return found


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _text(value: Any) -> str | None:
    return str(value) if value else None

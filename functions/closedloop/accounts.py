"""Account engagement: the people who count for an account, and what the account's GET shows.

A person counts for an account for one or more reasons (`via`, a set on the account's person item):
- `contact:<contactId>`: a CRM contact of the account whose marketing profile is the person;
- `group:<groupId>`: the person's latest Segment `group` call named a group id the account claims: the
  account's own id, its web `domain`, or its `customFields.groupId`.
Sets make every step idempotent: adding a reason twice is adding it once, so redelivered stream records
change nothing. People seen in a group no account claims yet are kept by group, and join the account
when one claims the group id.

The engagement shown is computed when the account is read: forward-decayed scores (leadstream.scores)
are summed as they stand at that moment, so nothing needs rewriting as scores decay.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from closedloop.store import loop as store
from crm.commerce.money import MINOR_UNITS
from crm.resources.accounts import Account, AccountEngagement, TopPerson
from crm.sync_records import get_account
from leadstream import clock
from leadstream.events import JUNK_IDS, MAX_ID_BYTES
from leadstream.profiles import Profile
from scoring.identity import GROUP_TRAIT

TOP_PEOPLE = 5
GROUP_ID_FIELD = "groupId"  # an account's custom field naming its Segment group id


# --- who counts for an account ------------------------------------------------------------------------
def on_contact(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
    """A contact counts its person for its account; a move or a deletion takes the reason away."""
    before = _membership(old)
    after = _membership(new)
    if before == after:
        return
    if before is not None:
        store.remove_account_person(*before)
    if after is not None:
        store.add_account_person(*after)


def _membership(contact: Mapping[str, Any] | None) -> tuple[str, str, str] | None:
    if not contact or not contact.get("accountId") or not contact.get("profileId"):
        return None
    return str(contact["accountId"]), str(contact["profileId"]), f"contact:{contact['contactId']}"


def on_profile(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
    """A person's latest `group` call moved them to another group (or to their first)."""
    if new is None or new.get("mergedInto"):
        return
    before = _group(old)
    after = _group(new)
    if before == after or after is None:
        return
    profile_id = str(new["profileId"])
    if before is not None:
        store.remove_group_person(before, profile_id)
        account_id = account_of_group(before)
        if account_id:
            store.remove_account_person(account_id, profile_id, f"group:{before}")
    store.add_group_person(after, profile_id)
    account_id = account_of_group(after)
    if account_id:
        store.add_account_person(account_id, profile_id, f"group:{after}")


def _group(profile: Mapping[str, Any] | None) -> str | None:
    """The person's group id, if it is one a key can hold: scoring keeps a `group` call's id, but an
    identify may send any trait of that name (a map, junk, a huge text), which is then ignored."""
    traits = (profile or {}).get("traits")
    value = traits.get(GROUP_TRAIT) if isinstance(traits, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    text = str(value).strip()
    if text.lower() in JUNK_IDS or len(text.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return None
    return text


def account_of_group(group_id: str) -> str | None:
    """The account a group id names: one that claims it (domain, customFields.groupId), else the account
    whose id it is."""
    linked = store.group_account(group_id)
    if linked:
        return linked
    return group_id if get_account(group_id) is not None else None


def on_account(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
    """An account's group ids changed: claim the new ones (and bring in the people already seen in them),
    release the old ones."""
    account_id = str((new or old or {}).get("accountId"))
    before, after = _claims(old), _claims(new)
    for group_id in sorted(before - after):
        store.unlink_group(group_id, account_id)
        for profile_id in store.group_people(group_id):
            store.remove_account_person(account_id, profile_id, f"group:{group_id}")
    for group_id in sorted(after - before):
        store.link_group(group_id, account_id)
        for profile_id in store.group_people(group_id):
            store.add_account_person(account_id, profile_id, f"group:{group_id}")


def _claims(account: Mapping[str, Any] | None) -> set[str]:
    if not account:
        return set()
    custom = account.get("customFields") if isinstance(account.get("customFields"), dict) else {}
    values = [account.get("domain"), (custom or {}).get(GROUP_ID_FIELD)]
    return {str(value).strip().lower() for value in values if isinstance(value, str) and value.strip()}


# --- what the account and the person show -------------------------------------------------------------
def engagement(account_id: str, now: datetime | None = None) -> AccountEngagement:
    """Summed and top engagement of the account's people, decayed to `now` (one Query and one
    BatchGetItem per 100 people)."""
    moment = now or clock.now()
    found = store.profiles(store.account_people(account_id))
    # A person counted under a profile that was merged since counts as the profile it was merged into.
    survivors = {p.merged_into for p in found.values() if p.merged_into and p.merged_into not in found}
    found |= store.profiles(sorted(survivors))
    people = [p for p in found.values() if p.merged_into is None]
    scored = sorted(
        ((round(p.score.engagement_at(moment), 1), p) for p in people),
        key=lambda pair: (-pair[0], pair[1].profile_id),
    )
    return AccountEngagement(
        people=len(scored),
        summed=round(sum(score for score, _ in scored), 1),
        top=[
            TopPerson(profile_id=p.profile_id, name=_name(p), engagement=score)
            for score, p in scored[:TOP_PEOPLE]
        ],
    )


def revenue(scope: str, owner_id: str) -> dict[str, str]:
    """Realized revenue per currency, as exact decimal strings in the currency's minor unit."""
    totals = store.revenue_of(scope, owner_id)
    return {currency: _money(amounts["total"], currency) for currency, amounts in sorted(totals.items())}


def person_revenue(profile_id: str) -> dict[str, str]:
    return revenue("PROFILE", profile_id)


def present_account(account: Account) -> Account:
    """The account as its GET shows it: with its people's engagement and its revenue."""
    return account.model_copy(
        update={
            "engagement": engagement(account.account_id),
            "revenue": revenue("ACCOUNT", account.account_id),
        }
    )


def _money(amount: Decimal, currency: str) -> str:
    places = MINOR_UNITS.get(currency, 2)
    return str(amount.quantize(Decimal(1).scaleb(-places)))


def _name(profile: Profile) -> str | None:
    traits = profile.traits
    name = traits.get("name") or " ".join(
        str(part) for part in (traits.get("firstName"), traits.get("lastName")) if part
    )
    return str(name)[:200] if name else None

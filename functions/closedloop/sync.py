"""Two-way field sync between a CRM contact and its marketing profile.

The ownership table (docs/closed-loop.md) says, per field, which side wins:

| contact field | profile trait | owner | CRM edit → profile | profile change → contact |
| --- | --- | --- | --- | --- |
| firstName, lastName, phone | same name | crm | always written | only fills an empty field |
| email | the profile's email identity | crm | claims the identity (re-keys) | only fills an empty field |
| title | title | newest | if newer than the trait | if newer than the contact |
| (account name) | company | crm | written when the account changes | never |
| customFields.<x> (mapped) | <trait> | as mapped | as its owner says | as its owner says |

No echo: a trait the loop writes carries a stamp whose origin is the CRM (`CRM_ORIGIN`), and a contact
the loop writes carries `updatedBy` = crm.sync_records.MARKETING_SYNC; a change from the other side is
never sent back. No flapping: the owner's value is never overwritten from the other side (only an empty
field is filled), and `newest` compares times, so two writes cannot undo each other. A cleared field does
not clear the other side. Profile stamps order traits as events do (leadstream.profiles.event_stamp), so
tracking events and CRM edits compete on the same clock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationError, field_validator

from closedloop.store import loop as store
from crm.resources.contacts import Contact
from crm.sync_records import MARKETING_SYNC, get_account, get_contact, save_contact
from leadstream import settings
from leadstream.errors import Conflict, PreconditionFailed
from leadstream.models import Model
from leadstream.profiles import IdentityRef, Profile, iso_utc, storable
from leadstream.store.profiles import live_profile, load_profiles
from scoring.identity import founded_profiles, founding_profile_id

logger = logging.getLogger(__name__)

CRM_ORIGIN = "~crm"  # the source part of a stamp the loop writes: no tracking source has this id
MAX_ATTEMPTS = 5
MAX_TEXT = 200
# A contact write the loop retries after reading the contact again.
EDIT_REFUSED = (PreconditionFailed, Conflict)


class Owner(StrEnum):
    CRM = "crm"
    MARKETING = "marketing"
    NEWEST = "newest"


class FieldRule(Model, frozen=True):
    """One synced field: its JSON path on the contact, its trait on the profile, and who wins."""

    contact: str = Field(min_length=1, max_length=120)
    trait: str = Field(min_length=1, max_length=120)
    owner: Owner


STANDARD_FIELDS: tuple[FieldRule, ...] = (
    FieldRule(contact="firstName", trait="firstName", owner=Owner.CRM),
    FieldRule(contact="lastName", trait="lastName", owner=Owner.CRM),
    FieldRule(contact="phone", trait="phone", owner=Owner.CRM),
    FieldRule(contact="title", trait="title", owner=Owner.NEWEST),
)
COMPANY_TRAIT = "company"


class SyncSettings(Model, frozen=True):
    # Custom fields synced too: a JSON list of {"contact": "customFields.<name>", "trait", "owner"}.
    field_map: tuple[FieldRule, ...] = Field(alias="CLOSEDLOOP_FIELD_MAP", default=())

    @field_validator("field_map", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        parsed = json.loads(value) if isinstance(value, str) else value
        if isinstance(parsed, list):
            for rule in parsed:
                if isinstance(rule, dict) and not str(rule.get("contact", "")).startswith("customFields."):
                    raise ValueError("a mapped field is a contact custom field: customFields.<name>")
        return parsed


def rules() -> tuple[FieldRule, ...]:
    return STANDARD_FIELDS + settings.load(SyncSettings).field_map


# --- stamps: when, and from which side -------------------------------------------------------------------
def crm_stamp(contact: Mapping[str, Any]) -> str:
    """The stamp of a value a contact version gave: its time, then who (the contact's version), then the
    CRM origin. Sorts against event stamps by time, like theirs."""
    at = str(contact.get("updatedAt", ""))
    return f"{at}|{at}|contact:{contact.get('contactId')}:{contact.get('version')}|{CRM_ORIGIN}"


def from_crm(stamp: str | None) -> bool:
    return bool(stamp) and str(stamp).endswith(f"|{CRM_ORIGIN}")


def stamp_time(stamp: str | None) -> str:
    return str(stamp or "").split("|", 1)[0]


# --- CRM → profile --------------------------------------------------------------------------------------
def on_contact(change_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
    """A contact change: link it to its person (found or made by email), write the fields the CRM gives to
    the profile, re-key the person's email. Exactly once per change (the change's marker)."""
    if new is None:
        if old and old.get("profileId"):
            store.commit(change_id, [store.contact_link_delete(str(old["profileId"]), str(old["contactId"]))])
        return
    contact_id = str(new["contactId"])
    if new.get("erasedAt") or _erased_contact(contact_id):
        return  # an erased person: nothing goes back to the profile, from this change or an older one
    profile_id: str | None = None
    for _ in range(MAX_ATTEMPTS):
        try:
            profile_id = _apply_contact(change_id, old, new)
            break
        except store.LostRace:
            continue
    else:
        raise store.LostRace(change_id)
    if profile_id and new.get("profileId") != profile_id:
        _link_contact(contact_id, profile_id)


def _apply_contact(change_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    email = str(new["email"]).strip().lower() if new.get("email") else None
    profile = live_profile(str(new["profileId"])) if new.get("profileId") else None
    if profile is None and email:
        owner = store.identity_owner(IdentityRef(kind="email", value=email))
        profile = live_profile(owner) if owner else None
    created = profile is None and email is not None
    if profile is None:
        if email is None:
            return None  # nobody to sync with: a contact without email and without a profile
        ref = IdentityRef(kind="email", value=email)
        profile = Profile(profile_id=founding_profile_id(ref, founded_profiles([ref], load_profiles)))
    if profile.erased_at is not None:
        return None  # an erased profile takes nothing from a contact (docs/customer-data.md, Erasure)
    expected = profile.version
    work = profile.model_copy(deep=True)
    items = []
    changed = created
    if new.get("updatedBy") != MARKETING_SYNC.user_id:  # an edit that came from marketing is not echoed
        changed |= _contact_fields(work, old, new)
        claimed = _email(work, old, new, email)
        if claimed is not None:
            items.append(store.identity_claim(claimed, work.profile_id))
            changed = True
    linked_before = old.get("profileId") if old else None
    if created or linked_before != work.profile_id or old is None:
        items.append(store.contact_link_put(work.profile_id, str(new["contactId"])))
    if changed:
        items.insert(0, store.profile_put(work, expected))
    if items:
        store.commit(change_id, items)
    return work.profile_id


def _contact_fields(work: Profile, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    stamp, changed = crm_stamp(new), False
    contact_time = str(new.get("updatedAt", ""))
    values = [(rule, _get(new, rule.contact), _get(old, rule.contact) if old else None) for rule in rules()]
    if new.get("accountId") and (old is None or old.get("accountId") != new.get("accountId")):
        account = get_account(str(new["accountId"]))
        if account is not None:
            rule = FieldRule(contact="accountId", trait=COMPANY_TRAIT, owner=Owner.CRM)
            values.append((rule, account.name, None))
    for rule, value, before in values:
        if value in (None, "") or value == before:
            continue  # unchanged by this edit, or cleared: nothing to send
        current = work.traits.get(rule.trait)
        if current == value:
            continue
        trait_stamp = work.trait_stamps.get(rule.trait)
        if rule.owner is Owner.MARKETING and current not in (None, ""):
            continue
        if rule.owner is Owner.NEWEST and trait_stamp and stamp_time(trait_stamp) > contact_time:
            continue
        if rule.owner is Owner.CRM and from_crm(trait_stamp) and str(trait_stamp) > stamp:
            continue
        work.traits[rule.trait] = storable(value)
        work.trait_stamps[rule.trait] = stamp
        changed = True
    return changed


def _email(
    work: Profile, old: Mapping[str, Any] | None, new: Mapping[str, Any], email: str | None
) -> IdentityRef | None:
    """A new contact email re-keys the person: the profile claims it as an identity (the old one stays, so
    what the person did under it stays theirs). An email another person already holds is not taken: the
    two people are not merged automatically (docs/identity.md)."""
    if email is None:
        return None
    ref = IdentityRef(kind="email", value=email)
    before = str(old["email"]).strip().lower() if old and old.get("email") else None
    if before == email and ref in work.identities:
        return None
    owner = store.identity_owner(ref)
    if owner is not None and owner != work.profile_id:
        logger.warning(
            "contact %s: email is another person's (%s); not re-keyed", new.get("contactId"), owner
        )
        return None
    work.add_identity(ref)
    work.email, work.email_stamp = email, crm_stamp(new)
    return ref if owner is None else None


def _erased_since(profile_id: str) -> bool:
    """Was the profile erased since this change (a change older than the erasure, delivered after it)?"""
    current = live_profile(profile_id)
    return current is None or current.erased_at is not None


def _erased_contact(contact_id: str) -> bool:
    """Was the contact erased since this change (a change older than the erasure, delivered after it)?"""
    contact = get_contact(contact_id)
    return contact is not None and contact.erased_at is not None


def _link_contact(contact_id: str, profile_id: str) -> None:
    """Set the contact's `profileId` (as the marketing sync, so the loop does not echo it)."""
    for _ in range(MAX_ATTEMPTS):
        contact = get_contact(contact_id)
        if contact is None or contact.profile_id == profile_id:
            return
        try:
            save_contact(contact, contact.model_copy(update={"profile_id": profile_id}))
            return
        except EDIT_REFUSED:
            continue


# --- profile → CRM --------------------------------------------------------------------------------------
def on_profile(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
    """A profile change: the synced traits it changed (not those the CRM gave it) onto its contact, as the
    ownership table allows. Costs nothing unless a synced trait changed; idempotent by value."""
    if new is None or new.get("mergedInto") or new.get("erasedAt"):
        return
    profile = Profile.model_validate(new)
    before = Profile.model_validate(old) if old else None
    changed: list[tuple[str, Owner, Any, str]] = []
    for rule in rules():
        value = profile.traits.get(rule.trait)
        stamp = profile.trait_stamps.get(rule.trait, "")
        if value in (None, "") or (before is not None and before.traits.get(rule.trait) == value):
            continue
        if not from_crm(stamp):
            changed.append((rule.contact, rule.owner, value, stamp))
    if (
        profile.email
        and (before is None or before.email != profile.email)
        and not from_crm(profile.email_stamp)
    ):
        changed.append(("email", Owner.CRM, profile.email, profile.email_stamp or ""))
    if not changed:
        return
    contact_id = store.linked_contacts([profile.profile_id]).get(profile.profile_id)
    # A profile erased since this change was made: its traits must not reach the contact.
    if contact_id is None or _erased_since(profile.profile_id):
        return
    for _ in range(MAX_ATTEMPTS):
        contact = get_contact(contact_id)
        if contact is None or contact.erased_at is not None:
            return
        after = _profile_fields(contact, changed)
        if after is None:
            return
        try:
            save_contact(contact, after)
            return
        except EDIT_REFUSED:
            continue


def _profile_fields(contact: Contact, changed: list[tuple[str, Owner, Any, str]]) -> Contact | None:
    document = contact.model_dump(by_alias=True, mode="json", exclude_none=True)
    result, contact_time = contact, iso_utc(contact.updated_at)
    for path, owner, value, stamp in changed:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            continue
        text = str(value).strip()[:MAX_TEXT]
        current = _get(document, path)
        if not text or current == text:
            continue
        if owner is Owner.CRM and current not in (None, ""):
            continue
        if owner is Owner.NEWEST and current not in (None, "") and stamp_time(stamp) <= contact_time:
            continue
        candidate = dict(document)
        _set(candidate, path, text)
        try:
            result = Contact.model_validate(candidate)
        except ValidationError:
            continue  # a value the CRM would refuse (a malformed phone): left to the person editing it
        document = candidate
    return None if result is contact else result


def _get(document: Mapping[str, Any] | None, path: str) -> Any:
    value: Any = document or {}
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if not rest:
        document[head] = value
        return
    inner = dict(document.get(head) or {})
    _set(inner, rest, value)
    document[head] = inner


def contacts_of(profile_ids: Sequence[str]) -> dict[str, str]:
    """profileId -> contactId of the profiles linked to a CRM contact (an erasure's plan reads them)."""
    return store.linked_contacts(profile_ids) if profile_ids else {}

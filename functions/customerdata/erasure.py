"""Erasure: a person's personal data removed from every store, with a receipt, exactly once.

```
POST /marketing/privacy/erasures {email | profileId}   the job (queued), or the person's existing one
plan      (ErasureQueue message)   who the person is: their profiles (the live one and those it absorbed),
                                   identities, addresses, CRM contacts and leads, names and phone numbers
                                   (kept on the job while it runs); the job → running
<step> n  (ErasureQueue message)   one page of one store's step: its targets are planned (kept on the page
                                   item), erased, then the page's counts reach the receipt once; the next
                                   page, or the next step's first
finish                              the job → done; the request and the identifiers are removed
GET /marketing/privacy/erasures/{id}                     status and receipt
```

The steps, in order, are given by the worker (handlers/erasure_worker.py), because some stores belong to
domains this one may not import (docs/architecture.md). Each step is a `Step`: `collect` names up to a
page of targets still holding the person's data, `erase` erases exactly those (idempotent) and counts
them from the targets alone, so a page run twice counts the same and its counts reach the receipt once.

Rows become anonymous rather than deleted where a report counts them (docs/customer-data.md has the table
of what happens in each store, and why).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from crm import erasure as crm_erasure
from customerdata.store import erasures as store
from leadstream import clock
from leadstream.errors import InvalidInput, NotFound
from leadstream.models import Model
from leadstream.privacy import subject_hash
from leadstream.profiles import IdentityRef, Profile, iso_utc
from leadstream.settings import ConfigurationError, load
from leadstream.store.profiles import get_profile, live_profile, merge_records, profile_of
from scoring.handoff import handoffs_of

PAGE = 500
NAME_TRAITS = ("name", "firstName", "lastName", "first_name", "last_name")
PHONE_TRAITS = ("phone", "mobile", "phoneNumber", "phone_number")


class ErasureSettings(Model, frozen=True):
    queue_url: str | None = Field(alias="ERASURE_QUEUE_URL", default=None, min_length=1)

    def require_queue(self) -> str:
        if not self.queue_url:
            raise ConfigurationError("invalid Leadstream configuration: ERASURE_QUEUE_URL is not set")
        return self.queue_url


def _queue() -> str:
    return load(ErasureSettings).require_queue()


class Subject(Model):
    """Everything that identifies the person, as found when the erasure began (kept while it runs)."""

    pseudonym: str
    profile_ids: list[str] = Field(default_factory=list, alias="profileIds")
    identities: list[IdentityRef] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    contact_ids: list[str] = Field(default_factory=list, alias="contactIds")
    lead_ids: list[str] = Field(default_factory=list, alias="leadIds")
    # Names and phone numbers: what a search of free text looks for, besides the addresses.
    texts: list[str] = Field(default_factory=list)

    @property
    def needles(self) -> list[str]:
        """What marks a piece of text as this person's: addresses, names, phone numbers (at least 5
        characters: a shorter one would match strangers' text)."""
        return sorted({value.strip() for value in [*self.emails, *self.texts] if len(value.strip()) >= 5})


@dataclass(frozen=True)
class Step:
    """One store's part of an erasure: `collect(subject, limit)` names up to `limit` targets (keys, ids)
    that still hold the person's data ([] when none is left); `erase(subject, targets)` erases exactly
    those (idempotent) and counts them from the targets alone."""

    name: str  # the receipt's store name
    collect: Callable[[Subject, int], list[str]]
    erase: Callable[[Subject, list[str]], dict[str, int]]
    paged: bool = True  # False: `collect` names everything at once (one page)


# --- the request -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Requested:
    job: dict[str, Any]
    created: bool


def request_erasure(
    *, email: str | None, profile_id: str | None, user: str, idempotency_key: str | None
) -> Requested:
    """The person's erasure: a new job (queued), or the one that exists for them. A profile id nobody has
    is a 404; an address nobody is known by still runs (a CRM contact, a suppression entry may hold it)."""
    address = email.strip().lower() if email else None
    profile: Profile | None = None
    if profile_id:
        profile = live_profile(profile_id)
        if profile is None:
            raise NotFound("No person has that profile id.")
    elif address:
        profile = profile_of(IdentityRef(kind="email", value=address))
    subject_key = (
        subject_hash("profile", profile.profile_id) if profile else subject_hash("email", str(address))
    )
    key_marker = subject_hash("key", f"{user}\n{idempotency_key}") if idempotency_key else None
    if key_marker and (keyed := store.marker(key_marker)):
        first = _job(keyed)
        if first.get("subjectHash") != subject_key:
            raise InvalidInput(
                "This Idempotency-Key was already used with a different request body; "
                "use a new key for a new request."
            )
        return Requested(_requeue(first), created=False)
    existing = store.marker(subject_key)
    if existing:
        return Requested(_requeue(_job(existing)), created=False)
    addresses = sorted({*([address] if address else []), *(_addresses(profile) if profile else [])})
    erasure_id = f"era_{uuid.uuid4().hex}"
    job: dict[str, Any] = {
        "erasureId": erasure_id,
        "status": "queued",
        "createdAt": iso_utc(clock.now()),
        "requestedBy": user,
        "subjectHash": subject_key,
        "asked": {"profileId": profile.profile_id} if profile else {"email": address},
        "receipt": {},
        "finished": {},
    }
    markers = [subject_key, *([key_marker] if key_marker else [])]
    replaced = [subject_hash("email", value) for value in addresses]
    if not store.create(job, markers, replaced):
        raced = store.marker(subject_key) or (store.marker(key_marker) if key_marker else None)
        if raced is None:
            raise RuntimeError("the erasure's markers were neither written nor found")
        return Requested(_requeue(_job(raced)), created=False)
    store.enqueue(_queue(), {"erasureId": erasure_id, "step": "plan"})
    return Requested(job, created=True)


def _requeue(job: dict[str, Any]) -> dict[str, Any]:
    """A job still queued (its first message may have been lost with a crashed request): queue it again;
    planning is conditional, so a second message changes nothing."""
    if job.get("status") == "queued":
        store.enqueue(_queue(), {"erasureId": job["erasureId"], "step": "plan"})
    return job


def _job(erasure_id: str) -> dict[str, Any]:
    job = store.get(erasure_id)
    if job is None:
        raise NotFound(f"There is no erasure {erasure_id}.")
    return job


def get_erasure(erasure_id: str) -> dict[str, Any]:
    return _job(erasure_id)


def latest_erasures(limit: int) -> list[dict[str, Any]]:
    return store.latest(limit)


def _addresses(profile: Profile) -> list[str]:
    found = {ref.value for ref in profile.identities if ref.kind == "email"}
    if profile.email:
        found.add(profile.email)
    return sorted(found)


# --- the plan --------------------------------------------------------------------------------------------
ContactsOf = Callable[[Sequence[str]], Mapping[str, str]]


def plan(request: Mapping[str, Any], erasure_id: str, contacts_of: ContactsOf) -> Subject:
    """Who the person is: their profiles, identities, addresses, CRM records, names and phone numbers."""
    profiles: dict[str, Profile] = {}
    live = None
    if request.get("profileId"):
        live = live_profile(str(request["profileId"]))
    elif request.get("email"):
        live = profile_of(IdentityRef(kind="email", value=str(request["email"])))
    if live is not None:
        profiles[live.profile_id] = live
        for merge in merge_records(live.profile_id):
            absorbed = get_profile(str(merge.get("absorbedId", "")))
            if absorbed is not None:
                profiles[absorbed.profile_id] = absorbed
    identities: dict[str, IdentityRef] = {}
    emails: set[str] = {str(request["email"])} if request.get("email") else set()
    texts: set[str] = set()
    for profile in profiles.values():
        for ref in profile.identities:
            identities[str(ref)] = ref
        emails.update(_addresses(profile))
        texts.update(_trait_texts(profile.traits))
    contact_ids = set(contacts_of(sorted(profiles)).values())
    contact_ids.update(crm_erasure.contacts_by_email(sorted(emails)))
    lead_ids = {record.lead_id for pid in profiles for record in handoffs_of(pid) if record.lead_id}
    lead_ids.update(crm_erasure.leads_by_email(sorted(emails)))
    crm = crm_erasure.person_of_records(sorted(contact_ids), sorted(lead_ids))
    emails.update(crm["emails"])
    texts.update(crm["texts"])
    lead_ids.update(crm["leadIds"])
    for address in emails:
        identities[f"email:{address}"] = IdentityRef(kind="email", value=address)
    return Subject.model_validate(
        {
            "pseudonym": f"erased-{erasure_id.removeprefix('era_')}",
            "profileIds": sorted(profiles),
            "identities": [identities[name] for name in sorted(identities)],
            "emails": sorted(emails),
            "contactIds": sorted(contact_ids),
            "leadIds": sorted(lead_ids),
            "texts": sorted(texts),
        }
    )


def _trait_texts(traits: Mapping[str, Any]) -> set[str]:
    texts = {str(traits[name]).strip() for name in (*NAME_TRAITS, *PHONE_TRAITS) if traits.get(name)}
    first, last = traits.get("firstName"), traits.get("lastName")
    if isinstance(first, str) and isinstance(last, str):
        texts.add(f"{first} {last}".strip())
    return {text for text in texts if text}


# --- the worker ------------------------------------------------------------------------------------------
def handle(message: Mapping[str, Any], steps: Sequence[Step], contacts_of: ContactsOf) -> str:
    """One ErasureQueue message; returns what it did (for the log). Every message may come twice: its
    work is idempotent, and the message after it is sent by the first delivery that gets that far (a page
    remembers it was `continued`), so a redelivery does not start a second chain."""
    erasure_id = str(message["erasureId"])
    job = store.get(erasure_id)
    if job is None or job.get("status") == "done":
        return "nothing"
    step = str(message.get("step", "plan"))
    if step == "plan":
        if job.get("status") == "queued":
            subject = plan(job.get("asked") or {}, erasure_id, contacts_of)
            store.start(erasure_id, subject.model_dump(by_alias=True), iso_utc(clock.now()))
        _continue(erasure_id, steps, ("plan", 0), _following(steps, None, more=False))
        return "planned"
    if step == "finish":
        store.finish(erasure_id, iso_utc(clock.now()))
        return "finished"
    subject = Subject.model_validate(job.get("subject") or {})
    by_name = {candidate.name: candidate for candidate in steps}
    if step not in by_name:
        raise ValueError(f"unknown erasure step {step!r}")
    number = int(message.get("page", 0))
    more = run_page(erasure_id, by_name[step], number, subject)
    _continue(erasure_id, steps, (step, number), _following(steps, (step, number), more=more))
    return f"{step} page {number}"


def run_page(erasure_id: str, step: Step, number: int, subject: Subject) -> bool:
    """Plan, erase and commit one page of a step; True when more may be left."""
    item = store.page(erasure_id, step.name, number)
    if item is not None and item.get("status") == "done":
        return bool(item.get("more"))
    if item is None:
        item = store.plan_page(erasure_id, step.name, number, step.collect(subject, PAGE))
    if item.get("status") == "done":
        return bool(item.get("more"))
    targets = [str(target) for target in item.get("targets") or []]
    counts = step.erase(subject, targets) if targets else {}
    more = step.paged and len(targets) >= PAGE
    store.commit_page(
        erasure_id, step.name, number, store=step.name, counts=counts, more=more, at=iso_utc(clock.now())
    )
    return more


def _following(steps: Sequence[Step], done: tuple[str, int] | None, *, more: bool) -> dict[str, Any]:
    if done is None:
        return {"step": steps[0].name, "page": 0} if steps else {"step": "finish"}
    if more:
        return {"step": done[0], "page": done[1] + 1}
    names = [step.name for step in steps]
    index = names.index(done[0]) + 1
    return {"step": names[index], "page": 0} if index < len(names) else {"step": "finish"}


def _continue(
    erasure_id: str, steps: Sequence[Step], done: tuple[str, int], following: dict[str, Any]
) -> None:
    """Send the next message, unless a delivery of this one did already."""
    item = store.page(erasure_id, *done)
    if item is not None and item.get("continued"):
        return
    store.enqueue(_queue(), {"erasureId": erasure_id, **following})
    store.mark_continued(erasure_id, *done)


# --- the receipt -----------------------------------------------------------------------------------------
def receipt(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per store: what was erased (counts by kind of item) and when its step ended."""
    stores: dict[str, dict[str, Any]] = {}
    for name, count in sorted((job.get("receipt") or {}).items()):
        store_name, _, what = str(name).partition(".")
        stores.setdefault(store_name, {"store": store_name, "items": {}})["items"][what] = int(count)
    for store_name, at in sorted((job.get("finished") or {}).items()):
        stores.setdefault(store_name, {"store": store_name, "items": {}})["finishedAt"] = str(at)
    return list(stores.values())

"""Access and portability: everything held about one person, as one JSON document.

`POST /marketing/privacy/exports {email | profileId}` gathers, through each owning domain's public
functions: the profile (traits, scores, tags, stage and its history, activity counts), its identities and
the anonymous profiles it absorbed, its events (every identity, across merges, newest first), the emails
sent to it with what became of each (delivered, opened, clicked, bounced, unsubscribed), its handoffs to
sales with the leads they created, its CRM records (contacts, leads, deals) with their history, and the
suppression entry of its address. The person's events are
capped at MAX_EVENTS (the document says when it was cut); nothing else is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crm.lifecycle import get_lead
from crm.person_records import records_of_person
from customerdata.consents import consent_document
from leadstream import clock
from leadstream.errors import NotFound
from leadstream.profiles import IdentityRef, Profile, iso_utc
from leadstream.store.profiles import get_profile, live_profile, merge_records, profile_of
from mail.outcomes import sends_of_profile
from mail.suppression_list import lookup as suppression_of
from scoring.handoff import handoffs_of
from tracking.logic import profile_timeline

MAX_EVENTS = 10_000
EVENT_PAGE = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def find_person(email: str | None, profile_id: str | None) -> Profile:
    """The live profile named by an email or a profile id (a merged-away id leads to its survivor)."""
    profile = None
    if profile_id:
        profile = live_profile(profile_id)
    elif email:
        profile = profile_of(IdentityRef(kind="email", value=email.strip().lower()))
    if profile is None:
        raise NotFound("No person is known by that " + ("profile id." if profile_id else "email address."))
    return profile


def access_document(profile: Profile) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    cursor = None
    truncated = False
    while True:
        page, cursor = profile_timeline(profile.identities, limit=EVENT_PAGE, cursor=cursor)
        events += [event.model_dump(mode="json", by_alias=True, exclude_none=True) for event in page]
        if len(events) >= MAX_EVENTS:
            truncated = cursor is not None or len(events) > MAX_EVENTS
            events = events[:MAX_EVENTS]
            break
        if cursor is None:
            break
    merges = merge_records(profile.profile_id)
    absorbed = [get_profile(str(merge.get("absorbedId", ""))) for merge in merges]
    handoffs = handoffs_of(profile.profile_id)
    leads = [get_lead(record.lead_id) for record in handoffs]
    suppression = None
    if profile.email:
        try:
            suppression = suppression_of(profile.email)
        except NotFound:
            suppression = None
    return {
        "generatedAt": iso_utc(clock.now()),
        "profile": profile.model_dump(mode="json", by_alias=True, exclude_none=True),
        "identities": [{"kind": ref.kind, "value": ref.value} for ref in profile.identities],
        "absorbedProfiles": [
            p.model_dump(mode="json", by_alias=True, exclude_none=True) for p in absorbed if p is not None
        ],
        "merges": [_plain(merge) for merge in merges],
        "events": events,
        "eventsTruncated": truncated,
        "emails": [
            record.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"claim_token"})
            for record in sends_of_profile(profile.profile_id, EPOCH)
        ],
        "handoffs": [record.model_dump(mode="json", by_alias=True, exclude_none=True) for record in handoffs],
        "leads": [lead.model_dump(mode="json", by_alias=True, exclude_none=True) for lead in leads if lead],
        "crm": crm_records(profile, [record.lead_id for record in handoffs]),
        "suppression": suppression.model_dump(mode="json", by_alias=True, exclude_none=True)
        if suppression
        else None,
        "consents": consent_document(profile),  # current per purpose, and every change (the proof)
    }


def crm_records(profile: Profile, lead_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The person's CRM contacts (by each of their addresses), leads and deals, with every history entry
    of each (crm.person_records)."""
    emails = [ref.value for ref in profile.identities if ref.kind == "email"]
    if profile.email and profile.email not in emails:
        emails.append(profile.email)
    return records_of_person(emails, lead_ids)


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: (str(value) if not isinstance(value, str | int | float | bool | list | dict) else value)
            for key, value in item.items() if key not in ("pk", "sk")}  # fmt: skip

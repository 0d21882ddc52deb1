"""Completing a handoff to sales: owner, lead, the owner's email, the `lead.qualified` event.

The decision (stage MQL, handoff n, its record) is stored by the profile's one write of the batch.
What follows runs after that write, here, once per profile whose handoff is not complete, and is safe to
run any number of times (a retried batch, two shards touching one person):

1. owner: a matching assignment rule, else round-robin among the enabled sales users; stored on the
   record once (the round-robin position moves in the same transaction, only if the record was free);
2. lead: `create_lead_once` with the handoff's deterministic id;
3. email and event: each claimed on the record before the call and its id recorded after it; a claim
   without an id is never repeated (outcome unknown: at most once), a sure failure releases the claim;
4. the record is completed, and the profile marked, so later batches leave it alone.

Other domains read a person's handoffs and sales owner, and email that owner, through `handoffs_of`,
`sales_owner` and `email_owner` (never through scoring.store).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from crm.leads import Lead, LeadOrigin
from crm.lifecycle import create_lead_once, get_lead
from leadstream import clock
from leadstream.aws import cognito_idp
from leadstream.events import TrackedEvent
from leadstream.profiles import Profile, iso_utc
from leadstream.scores import Handoff
from scoring.handoffs import (
    EVENT_SOURCE,
    LEAD_QUALIFIED,
    HandoffRecord,
    SalesUser,
    SendFailed,
    handoff_settings,
)
from scoring.notification import render_owner_email
from scoring.rules import ScoringConfig
from scoring.store import handoffs as store

MAX_ASSIGN_ATTEMPTS = 5
RECENT_ACTIVITY = 10


class HandoffIncomplete(RuntimeError):
    """A step failed; the record keeps what was done and a retry carries on from there."""


@dataclass(frozen=True)
class HandoffResult:
    profile_id: str
    number: int
    lead_created: bool
    email: str  # "sent", "already", "uncertain", "no owner email"
    event: str


def complete_handoff(
    profile: Profile,
    config: ScoringConfig,
    recent_activity: Callable[[Profile, int], list[TrackedEvent]],
    now: Callable[[], datetime] = clock.now,
) -> HandoffResult:
    handoff = profile.score.handoff
    if handoff is None:
        raise ValueError(f"profile {profile.profile_id} has no handoff")
    record = store.get_record(profile.profile_id, handoff.number)
    if record is None:
        raise HandoffIncomplete(f"handoff record {handoff.number} of {profile.profile_id} is missing")
    created, email_outcome, event_outcome = False, "already", "already"
    if record.completed_at is None:
        record = _assign(record, profile, config)
        lead = lead_for(profile, handoff, record)
        created = _create_lead(lead)
        if record.owner_email:
            activity = recent_activity(profile, RECENT_ACTIVITY)
            subject, text, html = render_owner_email(profile, lead, record, activity)
            email_outcome = _once(
                record, "email", now, lambda: store.send_email(str(record.owner_email), subject, text, html)
            )
        else:
            email_outcome = "no owner email"
        detail = event_detail(profile, lead)
        event_outcome = _once(
            record, "event", now, lambda: store.publish(LEAD_QUALIFIED, EVENT_SOURCE, detail)
        )
        store.complete(record, iso_utc(now()))
    store.mark_profile_done(profile.profile_id, handoff.number)
    return HandoffResult(profile.profile_id, handoff.number, created, email_outcome, event_outcome)


# --- owner ------------------------------------------------------------------------------------------------
def _assign(record: HandoffRecord, profile: Profile, config: ScoringConfig) -> HandoffRecord:
    for _ in range(MAX_ASSIGN_ATTEMPTS):
        if record.assigned_by is not None:
            return record
        users = store.sales_users()
        owner, by = _rule_owner(profile, config, users)
        position = None
        if owner is None and users:
            position = store.round_robin_position()
            owner, by = users[position % len(users)], "round-robin"
        elif owner is None:
            by = "nobody"  # no enabled sales user: the lead waits unassigned in the sales list
        if store.assign(record, owner, by=by, round_robin_from=position):
            return record.model_copy(
                update={
                    "assigned_by": by,
                    "owner_id": owner.user_id if owner else None,
                    "owner_email": owner.email if owner else None,
                }
            )
        fresh = store.get_record(record.profile_id, record.number)
        if fresh is None:
            raise HandoffIncomplete(f"handoff record {record.number} of {record.profile_id} vanished")
        record = fresh
    raise HandoffIncomplete("the round-robin position kept moving; the batch is retried")


def _rule_owner(
    profile: Profile, config: ScoringConfig, users: list[SalesUser]
) -> tuple[SalesUser | None, str]:
    rule = config.owner_rule({**profile.traits, "email": profile.email})
    if rule is None:
        return None, ""
    wanted = rule.owner.strip().lower()
    for user in users:
        if wanted in {user.username.lower(), (user.email or "").lower(), user.user_id.lower()}:
            return user, f"rule:{rule.rule_id}"
    return None, ""  # the rule names someone who is not an enabled sales user: fall back to the rotation


# --- lead -------------------------------------------------------------------------------------------------
def lead_for(profile: Profile, handoff: Handoff, record: HandoffRecord) -> Lead:
    """The lead a handoff creates: who the person is, who owns them, why they were handed over."""
    traits = profile.traits
    first, last = _names(traits)
    company = traits.get("company")
    if isinstance(company, dict):
        company = company.get("name")
    address = traits.get("address")
    address = address if isinstance(address, dict) else {}
    at = datetime.fromisoformat(handoff.at.replace("Z", "+00:00"))
    score = profile.score
    return Lead(
        lead_id=handoff.lead_id,
        origin=LeadOrigin.SCORING,
        profile_id=profile.profile_id,
        owner_id=record.owner_id,
        email=profile.email,
        first_name=first,
        last_name=last,
        company=_short(company),
        title=_short(traits.get("title") or traits.get("jobTitle")),
        phone=_short(traits.get("phone")),
        country=_short(traits.get("country") or address.get("country")),
        qualification={
            "reason": handoff.reason,
            "handoff": handoff.number,
            "qualifiedAt": handoff.at,
            "engagement": round(score.engagement_at(at), 1),
            "fit": score.fit,
            "grade": score.grade,
            "assignedBy": record.assigned_by,
            **({"formId": handoff.form_id} if handoff.form_id else {}),
        },
        created_at=at,
        updated_at=at,
    )


def _create_lead(lead: Lead) -> bool:
    return create_lead_once(lead)


def _names(traits: dict[str, Any]) -> tuple[str | None, str | None]:
    first, last = _short(traits.get("firstName")), _short(traits.get("lastName"))
    if first or last:
        return first, last
    full = _short(traits.get("name"))
    if not full:
        return None, None
    given, _, family = full.partition(" ")
    return given, family or None


def _short(value: Any, limit: int = 200) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:limit] or None


def event_detail(profile: Profile, lead: Lead) -> dict[str, Any]:
    """The `lead.qualified` event's detail; `leadId` identifies the handoff (consumers dedupe by it)."""
    return {
        "leadId": lead.lead_id,
        "profileId": profile.profile_id,
        "ownerId": lead.owner_id,
        "email": lead.email,
        "firstName": lead.first_name,
        "lastName": lead.last_name,
        "company": lead.company,
        "qualification": lead.qualification,
        "stage": profile.stage.value if profile.stage else None,
        "tags": profile.tags,
    }


# --- at most once, retried only after sure failures -------------------------------------------------------
def _once(
    record: HandoffRecord, step: store.Step, now: Callable[[], datetime], call: Callable[[], str]
) -> str:
    existing = getattr(record, step)
    if existing is not None:
        return "already" if existing.result_id else "uncertain"
    token = str(uuid.uuid4())
    if not store.claim(record, step, token, iso_utc(now())):
        return "already"  # claimed by another invocation, which records the outcome
    try:
        result_id = call()
    except SendFailed as exc:
        store.release(record, step, token)
        raise HandoffIncomplete(f"{step} of handoff {record.lead_id} failed: {exc}") from exc
    store.record_result(record, step, token, result_id)
    return "sent"


# --- for other domains ------------------------------------------------------------------------------------
def handoffs_of(profile_id: str) -> list[HandoffRecord]:
    """Every handoff of a person, the latest first (a handful at most: one per qualification)."""
    return store.records_of(profile_id)


def sales_owner(profile: Profile) -> tuple[str, str] | None:
    """(owner user id, email address) of the person's sales owner, or None: the owner of the person's
    lead (the CRM may have reassigned it since the handoff), else the owner the handoff assigned; a
    person never handed to sales has none."""
    handoff = profile.score.handoff
    if handoff is None:
        return None
    lead = get_lead(handoff.lead_id)
    record = store.get_record(profile.profile_id, handoff.number)
    owner_id = (lead.owner_id if lead else None) or (record.owner_id if record else None)
    if not owner_id:
        return None
    if record is not None and record.owner_id == owner_id and record.owner_email:
        return owner_id, record.owner_email
    address = _user_email(owner_id)
    return (owner_id, address) if address else None


def _user_email(user_id: str) -> str | None:
    """A user's email address from the user pool (the token `sub` works as the user name)."""
    try:
        user: dict[str, Any] = cognito_idp().admin_get_user(
            UserPoolId=handoff_settings().user_pool_id, Username=user_id
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "UserNotFoundException":
            return None
        raise
    attributes = {item["Name"]: item["Value"] for item in user.get("UserAttributes", [])}
    return attributes.get("email")


def email_owner(address: str, subject: str, text: str, html: str) -> str:
    """Send a transactional email to a sales owner through the lead-notification sender; its SES
    message id. Raises SendFailed when it was surely not sent."""
    return store.send_email(address, subject, text, html)

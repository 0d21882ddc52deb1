"""A lead's lifecycle: created when scoring hands a person over (`create_lead_once`), then accepted,
rejected or disqualified by sales, which moves its person's stage too. Scoring moves stages automatically
(always forward); a marketer or an admin moves one by hand with scoring.stages.change_stage.

Other domains create and read leads here (`create_lead_once`, `get_lead`), never through crm.store. The
CRM routes (`/crm/leads/...`) call the changes; they hold no HTTP or auth logic (the routes check the
caller's role first). A lead, its profile and the lead's history entry change
in one transaction, so a lead is never accepted without its person becoming sales-qualified (nor rejected
without going back to nurture), and never changes without its history saying who changed it. Each
function is safe to retry: repeating a change that is already made returns the current state.

Signatures are a contract with the CRM code: keep them stable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm.lead_record import LEAD
from crm.leads import Lead, LeadStatus
from crm.records import SYSTEM, Actor
from crm.store import leads as lead_store
from crm.store import lifecycle as store
from crm.store.leads import put_new_lead
from crm.store.records import history_items
from leadstream import clock
from leadstream.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from leadstream.profiles import Profile, iso_utc
from leadstream.scores import Stage

MAX_ATTEMPTS = 4
MAX_REASON_LENGTH = 1000
# Statuses from which sales may still accept or reject a handed-over lead.
OPEN_STATUSES = frozenset({LeadStatus.NEW, LeadStatus.WORKING})

# change(lead, a copy of its profile, now as ISO text) -> (new lead, changed profile), or None: nothing to do.
type LeadChange = Callable[[Lead, Profile | None, str], tuple[Lead, Profile | None] | None]


def create_lead_once(lead: Lead, *, by: Actor = SYSTEM) -> bool:
    """Create the lead with its "created" history entry, unless it exists (True if this call created it).
    Safe to retry: a retried handoff finds the lead its deterministic id made and creates nothing."""
    return put_new_lead(lead, also=history_items(LEAD, None, lead, by, action="created"))


def get_lead(lead_id: str) -> Lead | None:
    """The lead as it is now (a consistent read); None if there is none."""
    return lead_store.get_lead(lead_id)


def accept_lead(
    lead_id: str, *, by: Actor, expected_version: int | None = None, now: datetime | None = None
) -> Lead:
    """Sales accepts the lead: it becomes `accepted` and its profile `sales-qualified` (forward only).

    `by` is the accepting user (a Principal). Accepting an accepted lead returns it unchanged.
    Raises NotFound, Conflict (the lead is rejected, converted ...), PreconditionFailed (the lead is not
    at `expected_version`).
    """

    def change(lead: Lead, profile: Profile | None, at: str) -> tuple[Lead, Profile | None] | None:
        if lead.status == LeadStatus.ACCEPTED:
            return None
        _require_open(lead, "accept")
        accepted = lead.model_copy(update={"status": LeadStatus.ACCEPTED, "status_reason": None})
        if profile is not None and Stage.SQL.is_after(profile.stage):
            profile.move_to(Stage.SQL, at=at, by=f"sales:{by.user_id}", reason="lead accepted")
        return accepted, profile

    return _change_lead(lead_id, change, by, "accepted", expected_version=expected_version, now=now)


def reject_lead(
    lead_id: str, *, reason: str, by: Actor, expected_version: int | None = None, now: datetime | None = None
) -> Lead:
    """Sales rejects the lead with a reason: the lead leaves every sales view (status `rejected`) and its
    profile goes back to nurture (stage `lead`, engagement reset to zero). Scoring hands the person over
    again only when they qualify afresh: a new hand-raise, or the qualifying score earned again.

    Rejecting a rejected lead returns it unchanged. Raises InvalidInput (no reason), NotFound, Conflict
    (the lead was accepted or converted meanwhile), PreconditionFailed.
    """
    reason = _required_reason(reason, "rejected")

    def change(lead: Lead, profile: Profile | None, at: str) -> tuple[Lead, Profile | None] | None:
        if lead.status == LeadStatus.REJECTED:
            return None
        _require_open(lead, "reject")
        rejected = lead.model_copy(update={"status": LeadStatus.REJECTED, "status_reason": reason})
        if profile is not None and profile.stage in (Stage.MQL, Stage.SQL):
            profile.move_to(Stage.LEAD, at=at, by=f"sales:{by.user_id}", reason=f"lead rejected: {reason}")
            profile.score.reset_engagement()
        return rejected, profile

    return _change_lead(lead_id, change, by, "rejected", expected_version=expected_version, now=now)


def disqualify_lead(
    lead_id: str, *, reason: str, by: Actor, expected_version: int | None = None, now: datetime | None = None
) -> Lead:
    """Sales disqualifies the lead (not a buyer: a student, a competitor, no budget ever): the lead leaves
    every sales view and its profile's stage becomes `other`, outside the funnel, so scoring (which only
    moves stages forward inside the funnel) never hands the person over again; marketing may still email
    them. Open and accepted leads can be disqualified; disqualifying a disqualified lead returns it.
    Raises InvalidInput (no reason), NotFound, Conflict, PreconditionFailed.
    """
    reason = _required_reason(reason, "disqualified")

    def change(lead: Lead, profile: Profile | None, at: str) -> tuple[Lead, Profile | None] | None:
        if lead.status == LeadStatus.DISQUALIFIED:
            return None
        if lead.status not in (*OPEN_STATUSES, LeadStatus.ACCEPTED):
            raise Conflict(f"The lead is {lead.status.value}; it can no longer be disqualified.")
        disqualified = lead.model_copy(update={"status": LeadStatus.DISQUALIFIED, "status_reason": reason})
        if profile is not None:
            profile.move_to(
                Stage.OTHER, at=at, by=f"sales:{by.user_id}", reason=f"lead disqualified: {reason}"
            )
        return disqualified, profile

    return _change_lead(lead_id, change, by, "disqualified", expected_version=expected_version, now=now)


# --- shared steps -----------------------------------------------------------------------------------------
def _required_reason(reason: str, action: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"Say why the lead is {action} (1 to {MAX_REASON_LENGTH} characters).",
            errors=[{"field": "reason", "message": f"required, at most {MAX_REASON_LENGTH} characters"}],
        )
    return reason


def _require_open(lead: Lead, action: str) -> None:
    if lead.status not in OPEN_STATUSES:
        raise Conflict(f"The lead is {lead.status.value}; only a new or working lead can be {action}ed.")


def _change_lead(
    lead_id: str,
    change: LeadChange,
    actor: Actor,
    action: str,
    *,
    expected_version: int | None,
    now: datetime | None,
) -> Lead:
    for _ in range(MAX_ATTEMPTS):
        lead = store.get_lead(lead_id)
        if lead is None:
            raise NotFound(f"There is no lead {lead_id}.")
        if expected_version is not None and lead.version != expected_version:
            raise PreconditionFailed(
                f"The lead is at version {lead.version}, not {expected_version}: reload it and try again."
            )
        profile = store.live_profile(lead.profile_id) if lead.profile_id else None
        moment = now or clock.now()
        planned = change(lead, profile.model_copy(deep=True) if profile else None, iso_utc(moment))
        if planned is None:
            return lead
        new_lead, new_profile = planned
        new_lead = new_lead.model_copy(update={"updated_at": moment, "version": lead.version + 1})
        history = history_items(LEAD, lead, new_lead, actor, action=action)
        if store.put_lead_and_profile(
            new_lead, lead.version, new_profile, profile.version if profile else None, also=history
        ):
            return new_lead
    raise Conflict("The lead or its profile kept changing meanwhile; try again.")

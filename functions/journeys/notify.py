"""notify_owner: a short email to the person's sales owner, sent at most once per run step.

The owner is the owner of the person's lead (the CRM may have reassigned it since the handoff), else the
owner the handoff assigned; a person never handed to sales has none, and the step is skipped (the run's
log says so). The email is transactional (like the handoff's, functions/scoring/notification.py) and
goes through the lead-notification sender. A claim item is written before SES is called: a repeated step
finds it and sends nothing. A send that SES refused is recorded on the claim and the run moves on (an
owner notification never holds a person in a journey).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from journeys import store
from journeys.models import NotifyOwnerStep, Run
from leadstream.profiles import Profile


def notify(run: Run, step: NotifyOwnerStep, profile: Profile | None, at: datetime) -> str:
    """Send the notification (once); the outcome for the run's log."""
    if profile is None:
        return "skipped: the profile is gone"
    owner = owner_of(profile)
    if owner is None:
        return "skipped: no owner"
    owner_id, address = owner
    if not store.claim_notification(run, owner=owner_id, at=at):
        return "already notified"
    from scoring.store.handoffs import SendFailed, send_email

    subject, text, html = render(profile, step, run)
    try:
        ses_id = send_email(address, subject, text, html)
    except SendFailed as exc:
        store.record_notification(run, message_id=None, error=str(exc)[:500])
        return "notify failed: SES refused the email"
    store.record_notification(run, message_id=ses_id)
    return f"notified {owner_id}"


def owner_of(profile: Profile) -> tuple[str, str] | None:
    """(owner user id, email address) of the person's sales owner, or None."""
    handoff = profile.score.handoff
    if handoff is None:
        return None
    from crm.store.leads import get_lead
    from scoring.store.handoffs import get_record

    lead = get_lead(handoff.lead_id)
    record = get_record(profile.profile_id, handoff.number)
    owner_id = (lead.owner_id if lead else None) or (record.owner_id if record else None)
    if not owner_id:
        return None
    if record is not None and record.owner_id == owner_id and record.owner_email:
        return owner_id, record.owner_email
    address = _user_email(owner_id)
    return (owner_id, address) if address else None


def _user_email(user_id: str) -> str | None:
    """A user's email address from the user pool (the token `sub` works as the user name)."""
    from botocore.exceptions import ClientError

    from leadstream.aws import cognito_idp
    from scoring.handoffs import handoff_settings

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


def render(profile: Profile, step: NotifyOwnerStep, run: Run) -> tuple[str, str, str]:
    """(subject, text, HTML) of the notification."""
    traits = profile.traits
    name = " ".join(str(traits[key]) for key in ("firstName", "lastName") if traits.get(key)) or str(
        traits.get("name") or profile.email or "A person you own"
    )
    company = traits.get("company")
    company = company.get("name") if isinstance(company, dict) else company
    who = f"{name} ({company})" if isinstance(company, str) and company else name
    subject = f"Journey update: {who}"
    facts = [
        ("Email", profile.email),
        ("Journey", run.journey_id),
        ("Step", run.step_id),
        ("Stage", profile.stage.value if profile.stage else None),
        ("Interests", ", ".join(profile.tags) or None),
    ]
    shown = [(label, value) for label, value in facts if value]
    message = step.message or f"{who} reached step {run.step_id} of a marketing journey."
    text = "\n".join([message, "", *(f"{label}: {value}" for label, value in shown)])
    rows = "".join(
        f"<tr><th align='left'>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in shown
    )
    html = f"<p>{escape(message)}</p><table>{rows}</table>"
    return subject, text, html

"""notify_owner: a short email to the person's sales owner, sent at most once per run step.

The owner is the person's sales owner (scoring.handoff.sales_owner: the owner of their lead, else the
one the handoff assigned); a person never handed to sales has none, and the step is skipped (the run's
log says so). The email is transactional (like the handoff's, functions/scoring/notification.py) and
goes through the lead-notification sender. A claim item is written before SES is called: a repeated step
finds it and sends nothing. A send that SES refused is recorded on the claim and the run moves on (an
owner notification never holds a person in a journey).
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from journeys import store
from journeys.models import NotifyOwnerStep, Run
from leadstream.profiles import Profile
from scoring.handoff import email_owner, sales_owner
from scoring.handoffs import SendFailed


def notify(run: Run, step: NotifyOwnerStep, profile: Profile | None, at: datetime) -> str:
    """Send the notification (once); the outcome for the run's log."""
    if profile is None:
        return "skipped: the profile is gone"

    owner = sales_owner(profile)
    if owner is None:
        return "skipped: no owner"
    owner_id, address = owner
    if not store.claim_notification(run, owner=owner_id, at=at):
        return "already notified"
    subject, text, html = render(profile, step, run)
    try:
        ses_id = email_owner(address, subject, text, html)
    except SendFailed as exc:
        store.record_notification(run, message_id=None, error=str(exc)[:500])
        return "notify failed: SES refused the email"
    store.record_notification(run, message_id=ses_id)
    return f"notified {owner_id}"


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

"""The email a sales owner gets when a lead is handed to them: who, why, and what they did lately."""

from __future__ import annotations

from html import escape

from crm.leads import Lead
from leadstream.events import TrackedEvent
from leadstream.profiles import Profile
from scoring.handoffs import HandoffRecord

REASONS = {"hand-raiser": "asked to talk to sales", "score": "reached the qualification score"}


def render_owner_email(
    profile: Profile, lead: Lead, record: HandoffRecord, activity: list[TrackedEvent]
) -> tuple[str, str, str]:
    """(subject, text body, HTML body)."""
    name = " ".join(part for part in (lead.first_name, lead.last_name) if part) or lead.email or "Someone"
    who = f"{name} ({lead.company})" if lead.company else name
    why = REASONS.get(record.reason, record.reason)
    if record.form_id:
        why += f" (form {record.form_id})"
    subject = f"New lead for you: {who}"
    facts = [
        ("Email", lead.email),
        ("Company", lead.company),
        ("Title", lead.title),
        ("Phone", lead.phone),
        ("Country", lead.country),
        ("Why now", why),
        ("Engagement", str(lead.qualification.get("engagement"))),
        ("Fit", f"{profile.score.fit} (grade {profile.score.grade or '-'})"),
        ("Interests", ", ".join(profile.tags) or None),
        ("Lead id", lead.lead_id),
    ]
    shown = [(label, value) for label, value in facts if value]
    lines = [describe(event) for event in activity]
    text = "\n".join(
        [
            f"{who} {why} and is now your lead.",
            "",
            *(f"{label}: {value}" for label, value in shown),
            "",
            "Recent activity (newest first):",
            *(f"  {line}" for line in lines or ["(none recorded)"]),
            "",
            "Accept the lead in the CRM to start working it, or reject it with a reason to send it back to "
            "marketing.",
        ]
    )
    rows = "".join(
        f"<tr><th align='left'>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in shown
    )
    items = "".join(f"<li>{escape(line)}</li>" for line in lines) or "<li>(none recorded)</li>"
    html = (
        f"<p><strong>{escape(who)}</strong> {escape(why)} and is now your lead.</p>"
        f"<table>{rows}</table><p>Recent activity (newest first):</p><ul>{items}</ul>"
        "<p>Accept the lead in the CRM to start working it, or reject it with a reason to send it back to "
        "marketing.</p>"
    )
    return subject, text, html


def describe(event: TrackedEvent) -> str:
    """One line per event: when, and what (page URL, track name and form, identify)."""
    when = event.timestamp.strftime("%Y-%m-%d %H:%M UTC")
    page = event.context.get("page")
    page = page if isinstance(page, dict) else {}
    if event.type in ("page", "screen"):
        where = page.get("url") or event.properties.get("url") or event.name or ""
        return f"{when}  viewed {where}".rstrip()
    if event.type == "track":
        form = event.properties.get("formName") or event.properties.get("formId")
        return f"{when}  {event.event}" + (f": {form}" if form else "")
    return f"{when}  {event.type}"

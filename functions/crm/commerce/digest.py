"""The owners' daily digest: what each rep should look at today, in one email.

Three sections, each read per owner from an index (never a Scan):

- tasks due: planned tasks due today, or overdue by up to 30 days;
- deals closing this week: open deals whose expected close date is in the seven days from today;
- contracts up for renewal: active contracts inside their renewal lead time.

An owner with nothing in any section gets no email. An owner gets at most one digest per day: the daily
run claims (owner, day) with a conditional write before sending, so a rerun or a retried invocation sends
nothing twice (docs/commerce.md).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

WEEK = timedelta(days=6)  # today and the six days after it
# Overdue tasks stay in the digest this long; older ones are for the rep's own task list.
OVERDUE_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class DigestItem:
    record_id: str
    title: str
    day: date  # due date, expected close date or contract end
    detail: str = ""


@dataclass(frozen=True)
class Owner:
    user_id: str  # Cognito `sub`: what records store as ownerId
    email: str
    name: str = ""


@dataclass(frozen=True)
class Digest:
    owner: Owner
    day: date
    tasks_due: Sequence[DigestItem] = field(default_factory=tuple)
    deals_closing: Sequence[DigestItem] = field(default_factory=tuple)
    renewals: Sequence[DigestItem] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        return not (self.tasks_due or self.deals_closing or self.renewals)


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def tasks_window(today: date) -> tuple[date, date]:
    return today - OVERDUE_WINDOW, today


def closing_window(today: date) -> tuple[date, date]:
    """The days whose deals count as closing this week: today through six days later."""
    return today, today + WEEK


def render(digest: Digest) -> Email:
    sections = [
        ("Tasks due", digest.tasks_due, "due"),
        ("Deals closing this week", digest.deals_closing, "closes"),
        ("Contracts up for renewal", digest.renewals, "ends"),
    ]
    counts = [
        _count(len(digest.tasks_due), "task due", "tasks due"),
        _count(len(digest.deals_closing), "deal closing", "deals closing"),
        _count(len(digest.renewals), "renewal", "renewals"),
    ]
    subject = f"Leadstream {digest.day.isoformat()}: " + ", ".join(c for c in counts if c)
    greeting = f"Good morning{' ' + digest.owner.name if digest.owner.name else ''}, here is your day."
    text_parts = [greeting]
    html_parts = [f"<p>{html.escape(greeting)}</p>"]
    for title, items, verb in sections:
        if not items:
            continue
        ordered = sorted(items, key=lambda item: (item.day, item.title))
        text_parts.append(f"\n{title}\n" + "\n".join(_text_line(item, verb) for item in ordered))
        html_parts.append(
            f"<h2>{html.escape(title)}</h2><ul>"
            + "".join(f"<li>{html.escape(_text_line(item, verb)[2:])}</li>" for item in ordered)
            + "</ul>"
        )
    return Email(subject=subject, text="\n".join(text_parts) + "\n", html="".join(html_parts))


def _text_line(item: DigestItem, verb: str) -> str:
    detail = f" ({item.detail})" if item.detail else ""
    return f"- {item.title}{detail}, {verb} {item.day.isoformat()}"


def _count(number: int, one: str, many: str) -> str:
    if number == 0:
        return ""
    return f"{number} {one if number == 1 else many}"

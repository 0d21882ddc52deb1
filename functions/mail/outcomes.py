"""What became of the emails mail sent, for the domains that send them (campaigns, journeys): a
campaign's or journey's report counters, a person's recent emails, whether one was opened or clicked,
and counting a conversion. They read and count here, never in mail.store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from mail.reports import Counters, Metric, ReportKind
from mail.sends import SendRecord
from mail.store import reports as report_store
from mail.store import sends as send_store

Engagement = Literal["opened", "clicked"]


def report_for(kind: ReportKind, owner_id: str) -> dict[str, Counters]:
    """Every group's counters of one campaign (by variant) or journey (by step): one Query."""
    return report_store.report_for(kind, owner_id)


def sends_of_profile(profile_id: str, since: datetime) -> list[SendRecord]:
    """A person's send records claimed at or after `since`, oldest first: one Query on the by-profile
    index, however many emails other people got."""
    return send_store.sends_of_profile(profile_id, since)


def count_conversion(record: SendRecord, at: datetime) -> bool:
    """Mark the email converted at `at` and count it in its report group, unless it was marked before.
    True when this call counted it."""
    return report_store.count_first(record, Metric.CONVERTED, at)


def engaged(message_id: str, how: Engagement) -> bool:
    """Whether the person opened (`opened`) or clicked (`clicked`) the email: a click counts as an open.
    False for a message there is no record of."""
    record = send_store.get_send(message_id)
    if record is None:
        return False
    if how == "clicked":
        return record.clicked_at is not None
    return record.opened_at is not None or record.clicked_at is not None

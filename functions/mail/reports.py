"""Email reports: counters per (campaign, variant) and per (journey, step), and the rates made from them.

Each counter counts a message at most once: the send record's `<metric>At` attribute is set (only if it
is not there yet) in the same transaction that adds one to the counter (mail.store.reports), so a
retried SES event, a second open or a redelivered stream record counts nothing twice. "sent" is the one
exception in form, not in effect: it is counted by the status change sending → sent, which both of its
writers (the sender, SES's Send event) make only from `sending`, so it happens once per message.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, NamedTuple

from pydantic import ConfigDict, Field

from leadstream.models import Model
from mail.sends import SendRecord, SendRequest

ReportKind = Literal["campaign", "journey"]
# The report group of a campaign without variants (one template): its only variant.
SINGLE_VARIANT = "A"


class Metric(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCED = "bounced"  # permanent (hard) bounces: a soft bounce may still be delivered
    COMPLAINED = "complained"
    OPENED = "opened"  # unique, people only (scanner opens are not counted)
    CLICKED = "clicked"  # unique, people only
    UNSUBSCRIBED = "unsubscribed"
    CONVERTED = "converted"
    # Deliberately not sent (suppressed, no consent, over the weekly cap, no address): counted with the
    # final record that says so, which is written once (mail.store.sends).
    SKIPPED = "skipped"

    @property
    def attribute(self) -> str:
        """The send record's attribute that says when this first happened (and that it was counted)."""
        return f"{self.value}At"

    @property
    def record_field(self) -> str:
        """The same, as SendRecord's field name."""
        return f"{self.value}_at"


class _Counts(Model):
    # defer_build (on every model here): validators are built on first use, not at import; the
    # email API imports these models for its route declarations (docs/api.md, "Cold start").
    model_config = ConfigDict(defer_build=True, extra="ignore")

    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    converted: int = 0
    skipped: int = 0


class Counters(_Counts):
    def __add__(self, other: Counters) -> Counters:
        return Counters.model_validate(
            {metric.value: getattr(self, metric.value) + getattr(other, metric.value) for metric in Metric}
        )

    def count(self, metric: Metric) -> int:
        return int(getattr(self, metric.value))

    def rates(self) -> dict[str, float | None]:
        """Share of the emails that could do it: delivery and bounces of those sent, the rest of those
        delivered (click-to-open of those opened). None when nothing is in the denominator yet."""
        return {
            "deliveryRate": _ratio(self.delivered, self.sent),
            "bounceRate": _ratio(self.bounced, self.sent),
            "complaintRate": _ratio(self.complained, self.delivered),
            "openRate": _ratio(self.opened, self.delivered),
            "clickRate": _ratio(self.clicked, self.delivered),
            "clickToOpenRate": _ratio(self.clicked, self.opened),
            "unsubscribeRate": _ratio(self.unsubscribed, self.delivered),
            "conversionRate": _ratio(self.converted, self.delivered),
        }

    def report(self) -> EmailReport:
        return EmailReport.model_validate({**self.model_dump(), "rates": self.rates()})


class Rates(Model):
    """Each counter as a share of the emails that could do it (null while nothing could)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    delivery_rate: float | None = Field(alias="deliveryRate", description="delivered / sent")
    bounce_rate: float | None = Field(alias="bounceRate", description="bounced / sent")
    complaint_rate: float | None = Field(alias="complaintRate", description="complained / delivered")
    open_rate: float | None = Field(alias="openRate", description="opened / delivered")
    click_rate: float | None = Field(alias="clickRate", description="clicked / delivered")
    click_to_open_rate: float | None = Field(alias="clickToOpenRate", description="clicked / opened")
    unsubscribe_rate: float | None = Field(alias="unsubscribeRate", description="unsubscribed / delivered")
    conversion_rate: float | None = Field(alias="conversionRate", description="converted / delivered")


class EmailReport(_Counts):
    """The counters of a group of emails (a campaign variant, a journey step, a total) and their rates."""

    model_config = ConfigDict(defer_build=True, serialize_by_alias=True)

    rates: Rates


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def total(groups: dict[str, Counters]) -> Counters:
    result = Counters()
    for counters in groups.values():
        result = result + counters
    return result


class ReportGroup(NamedTuple):
    """Which counters a message counts in."""

    kind: ReportKind
    owner_id: str
    group: str


def group_of(send: SendRecord | SendRequest) -> ReportGroup | None:
    """A campaign email counts in its variant, a journey email in its step; anything else in no report."""
    if send.campaign_id:
        return ReportGroup("campaign", send.campaign_id, send.variant or SINGLE_VARIANT)
    if send.journey_id and send.step_id:
        return ReportGroup("journey", send.journey_id, send.step_id)
    return None

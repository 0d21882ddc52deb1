"""A small lake whose every report number is computed by hand (docs/lake.md, "The hand-checked data set").

Three people in March 2026:
- P1: a paid touch (google / cpc) on 20 Feb, a referral (news.example.org) on 2 Mar, an email click
  (campaign c1) on 5 Mar; lead 1 Mar, MQL 6 Mar; deal d1 opened 10 Mar, won 20 Mar for 1,200; an order
  without a deal for 300.
- P2: a social touch (linkedin) on 3 Mar; lead 3 Mar, MQL 8 Mar.
- P3: a direct visit on 4 Mar; lead 4 Mar.
Contracts: one expired without renewal, one renewed (its renewal deal d2 won, for a contact with no
profile). Spend: paid 750 and social 100 in March 2026.

The rows are made the way the lake makes them (lake.rows, from events and table images), so the
numbers check the rows and the SQL together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lake import rows as lake_rows
from leadstream.events import TrackedEvent

SITE = "https://www.example.com"
SPEND = [("2026-03", "paid", "750.00"), ("2026-03", "social", "100.00")]
PERIOD = {"from": "2026-03-01", "to": "2026-03-31"}


def at(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00+00:00").astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def page(
    message_id: str,
    anon: str,
    when: datetime,
    path: str,
    *,
    referrer: str | None = None,
    utm: dict[str, str] | None = None,
    email: str | None = None,
) -> TrackedEvent:
    query = "&".join(f"utm_{k}={v}" for k, v in (utm or {}).items())
    url = f"{SITE}{path}" + (f"?{query}" if query else "")
    context: dict[str, Any] = {
        "page": {"url": url, "path": path, "referrer": referrer or ""},
        "ip": "203.0.113.9",
    }
    if email:
        context["traits"] = {"email": email, "name": "Jane Doe", "phone": "+1 555 0100"}
    return TrackedEvent.model_validate(
        {
            "source_id": "src1",
            "message_id": message_id,
            "type": "page",
            "anonymous_id": anon,
            "name": "Home",
            "context": context,
            "properties": {"url": url, "title": "Jane's page"},
            "timestamp": when,
            "received_at": when,
        }
    )


def events() -> list[TrackedEvent]:
    return [
        page(
            "m1", "a1", at("2026-02-20"), "/", utm={"source": "google", "medium": "cpc", "campaign": "spring"}
        ),
        page("m2", "a1", at("2026-03-02"), "/", referrer="https://news.example.org/story"),
        page("m3", "a1", at("2026-03-06", 9), "/pricing", referrer=f"{SITE}/", email="jane@example.com"),
        page("m4", "a2", at("2026-03-03"), "/landing", utm={"source": "linkedin", "medium": "social"}),
        page("m5", "a3", at("2026-03-04"), "/"),
    ]


def profile(
    pid: str,
    identities: list[tuple[str, str]],
    stages: list[tuple[str, datetime]],
    *,
    email: str | None = None,
    version: int = 1,
) -> dict[str, Any]:
    history, previous = [], None
    for stage, when in stages:
        history.append({"stage": stage, "previous": previous, "at": iso(when), "by": "sales:user-7"})
        previous = stage
    return {
        "pk": f"PROFILE#{pid}",
        "sk": "PROFILE",
        "profileId": pid,
        "version": version,
        "email": email,
        "identities": [{"kind": k, "value": v} for k, v in identities],
        "traits": {"name": "Jane Doe", "phone": "+1 555 0100"},
        "stage": previous,
        "stageHistory": history,
    }


def record(kind: str, record_id: str, version: int, updated: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "pk": f"{kind.upper()}#{record_id}",
        "sk": kind.upper(),
        "version": version,
        "updatedAt": iso(updated),
        "createdAt": iso(updated),
        **fields,
    }


def main_table_writes() -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(old image, new image) of each main-table write, in order."""
    p1_ids = [("anon", "a1"), ("email", "jane@example.com")]
    p1 = profile("p1", p1_ids, [("lead", at("2026-03-01"))], email="jane@example.com")
    p1b = profile(
        "p1",
        p1_ids,
        [("lead", at("2026-03-01")), ("marketing-qualified", at("2026-03-06"))],
        email="jane@example.com",
        version=2,
    )
    p2_ids = [("anon", "a2"), ("user", "u2"), ("email", "sam@example.com")]
    p2 = profile("p2", p2_ids, [("lead", at("2026-03-03")), ("marketing-qualified", at("2026-03-08"))])
    p3 = profile("p3", [("anon", "a3")], [("lead", at("2026-03-04"))])
    k1 = record(
        "contact",
        "k1",
        1,
        at("2026-03-09"),
        contactId="k1",
        profileId="p1",
        accountId="acc1",
        email="jane@example.com",
        firstName="Jane",
        lastName="Doe",
        phone="+1 555 0100",
    )
    k2 = record("contact", "k2", 1, at("2025-01-01"), contactId="k2", accountId="acc2", email="x@example.net")
    d1 = record(
        "deal",
        "d1",
        1,
        at("2026-03-10"),
        dealId="d1",
        contactId="k1",
        accountId="acc1",
        outcome="open",
        amount="1000.00",
        currency="USD",
        stageId="qualification",
        name="Jane's deal",
    )
    d1b = {
        **d1,
        **record(
            "deal",
            "d1",
            2,
            at("2026-03-20"),
            outcome="won",
            amount="1200.00",
            closedAt=iso(at("2026-03-20")),
            stageId="won",
        ),
    }
    d2 = record(
        "deal",
        "d2",
        1,
        at("2026-03-15"),
        dealId="d2",
        contactId="k2",
        outcome="won",
        amount="500.00",
        currency="USD",
        closedAt=iso(at("2026-03-15")),
    )
    o1 = record(
        "order",
        "o1",
        1,
        at("2026-03-21"),
        orderId="o1",
        contactId="k1",
        accountId="acc1",
        status="confirmed",
        currency="USD",
        totals={"total": "300.00"},
    )
    c1 = record(
        "contract",
        "c1",
        3,
        at("2026-02-28"),
        contractId="c1",
        orderId="o0",
        status="expired",
        value="900.00",
        currency="USD",
        endDate="2026-02-28",
    )
    c2 = record(
        "contract",
        "c2",
        2,
        at("2026-03-15"),
        contractId="c2",
        orderId="o9",
        status="active",
        value="500.00",
        currency="USD",
        endDate="2026-03-31",
        renewalDealId="d2",
    )
    s1 = {
        "pk": "SEND#s1",
        "sk": "SEND",
        "profileId": "p1",
        "email": "jane@example.com",
        "campaignId": "c1",
        "sentAt": iso(at("2026-03-04", 8)),
    }
    s1b = {**s1, "openedAt": iso(at("2026-03-05", 9)), "clickedAt": iso(at("2026-03-05", 10))}
    s2 = {
        "pk": "SEND#s2",
        "sk": "SEND",
        "profileId": "p2",
        "email": "sam@example.com",
        "campaignId": "c1",
        "sentAt": iso(at("2026-03-04", 8)),
    }
    l1 = record(
        "lead",
        "l1",
        2,
        at("2026-03-07"),
        leadId="l1",
        profileId="p1",
        status="accepted",
        email="jane@example.com",
        firstName="Jane",
        lastName="Doe",
    )
    return [
        (None, l1),
        (None, p1),
        (p1, p1b),
        (None, p2),
        (None, p3),
        (None, k1),
        (None, k2),
        (None, d1),
        (d1, d1b),
        (None, d2),
        (None, o1),
        (None, c1),
        (None, c2),
        (None, s1),
        (s1, s1b),
        (None, s2),
    ]


def lake_rows_by_table() -> dict[str, list[dict[str, Any]]]:
    """Every row of the hand-checked lake, as lake.rows makes them."""
    found: dict[str, list[dict[str, Any]]] = {
        "events": [lake_rows.event_row(e) for e in events()],
        "changes": [],
    }
    for old, new in main_table_writes():
        keys = {"pk": new["pk"], "sk": new["sk"]}
        found["changes"].extend(lake_rows.change_rows(keys, old, new, at("2026-03-01", 0)))
    return found

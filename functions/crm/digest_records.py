"""The digest's reads: the owners (user pool), and per owner one index query each for their tasks, deals
and contracts (GSI2, `OWNER#<id>#<KIND>S`, sorted by the kind's date: a date range is a key condition).

It sits above crm.commerce and crm.resources because it needs both: the digest's rules are commerce's, the
record types of tasks, deals and contracts are the resources'."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from crm.commerce.contracts import MAX_RENEWAL_LEAD_DAYS
from crm.commerce.digest import DigestItem, Owner, closing_window, tasks_window
from crm.commerce.store.owners import pool_owners
from crm.records import RecordType
from crm.resources.activities import ACTIVITY
from crm.resources.contracts import CONTRACT
from crm.resources.deals import DEAL
from crm.store import records as store
from leadstream import keys

PAGE = 200


class RecordDigestSources:
    def __init__(self, *, user_pool_id: str) -> None:
        self.user_pool_id = user_pool_id

    def owners(self) -> Iterator[Owner]:
        return pool_owners(self.user_pool_id)

    def tasks_due(self, owner_id: str, today: date) -> list[DigestItem]:
        start, end = tasks_window(today)
        tasks = _owned(ACTIVITY, owner_id, start, end, {"type": "task", "status": "planned"})
        return [
            DigestItem(
                task.activity_id,
                task.subject,
                task.due_at.date(),
                "overdue" if task.due_at.date() < today else "",
            )
            for task in tasks
        ]

    def deals_closing(self, owner_id: str, today: date) -> list[DigestItem]:
        start, end = closing_window(today)
        deals = _owned(DEAL, owner_id, start, end, {"outcome": "open"})
        return [
            DigestItem(
                deal.deal_id,
                deal.name,
                deal.close_date,
                f"{deal.currency} {deal.amount}" if deal.amount is not None else "",
            )
            for deal in deals
        ]

    def renewals(self, owner_id: str, today: date) -> list[DigestItem]:
        """Active contracts inside their lead time. Their index runs by end date, so the query takes the
        contracts ending within the longest lead time there can be, and keeps those already due."""
        horizon = today + timedelta(days=MAX_RENEWAL_LEAD_DAYS)
        contracts = _owned(CONTRACT, owner_id, today, horizon, {"status": "active"})
        return [
            DigestItem(
                contract.contract_id,
                contract.name,
                contract.end_date,
                "renewal deal created" if contract.renewal_deal_id else "renewal due",
            )
            for contract in contracts
            if contract.up_for_renewal(today)
        ]


def _owned(
    kind: RecordType[Any], owner_id: str, start: date, end: date, filters: Mapping[str, str]
) -> Iterator[Any]:
    """Every record of `kind` owned by `owner_id` whose list date is in [start, end], page by page."""
    index, partition = keys.record_list_partition(kind.kind, owner_id=owner_id)
    cursor: str | None = None
    while True:
        page = store.list_records(
            kind,
            store.ListQuery(
                index=index,
                partition=partition,
                sort_from=start.isoformat(),
                sort_to=end.isoformat(),
                filters=filters,
                limit=PAGE,
                cursor=cursor,
            ),
        )
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor

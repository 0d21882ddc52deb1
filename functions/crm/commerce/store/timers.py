"""Contract timers in the main table: one item per active contract, in a sparse GSI1 partition per month.

The item `CONTRACT#<id>` / `TIMER` sits in the contract's own partition (it is not a record: no version,
no history); its GSI1 entry `CONTRACT-TIMERS#<yyyy-mm>` / `<due date>#<id>` is what the daily job
queries: this month's partition and a few before it, up to today. Nothing else is ever in those
partitions, so the job reads only the timers that are due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from crm.commerce.contracts import Timer, TimerAction
from crm.commerce.renewals import TimerEntry
from leadstream import keys
from leadstream.aws import dynamodb
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, get_item, serialize


class DynamoTimerStore:
    def __init__(self, *, lookback_months: int) -> None:
        self.lookback_months = lookback_months

    def due(self, today: date) -> Iterator[TimerEntry]:
        """Every timer due today or earlier, oldest month first (one Query per month, paginated)."""
        for month in months_back(today, self.lookback_months):
            yield from self._due_in(month, today)

    def set(self, contract_id: str, timer: Timer | None) -> None:
        table = get_settings().main_table
        key = keys.contract_timer_key(contract_id)
        if timer is None:
            dynamodb().delete_item(TableName=table, Key=serialize(key))
            return
        item = {
            **key,
            **keys.contract_timer_index(timer.due.isoformat(), contract_id),
            "contractId": contract_id,
            "action": timer.action.value,
            "due": timer.due.isoformat(),
        }
        dynamodb().put_item(TableName=table, Item=serialize(item))

    def get(self, contract_id: str) -> Timer | None:
        item = get_item(get_settings().main_table, keys.contract_timer_key(contract_id), consistent=True)
        return Timer(TimerAction(item["action"]), date.fromisoformat(item["due"])) if item else None

    def bring_forward(self, contract_id: str, timer: Timer | None) -> None:
        """Before a contract change: make sure the timer fires no later than `timer` would.

        Written before the change, so a timer is never later than the contract needs, whatever fails
        after; an early timer only wakes the job, which then sets it right (crm.commerce.renewals).
        """
        if timer is None:
            return  # the contract is becoming final: the job drops its timer when it next fires
        current = self.get(contract_id)
        if current is None or timer.due < current.due:
            self.set(contract_id, timer)

    def _due_in(self, month: str, today: date) -> Iterator[TimerEntry]:
        request = {
            "TableName": get_settings().main_table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "gsi1pk = :month AND gsi1sk <= :today",
            "ExpressionAttributeValues": serialize(
                {":month": keys.contract_timer_partition(month), ":today": f"{today.isoformat()}#~"}
            ),
        }
        while True:
            response = dynamodb().query(**request)  # type: ignore[arg-type]
            for raw in response.get("Items", []):
                item = deserialize(raw)
                yield TimerEntry(
                    contract_id=str(item["contractId"]),
                    action=TimerAction(item["action"]),
                    due=date.fromisoformat(str(item["due"])),
                )
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def months_back(today: date, count: int) -> list[str]:
    """`count` months before today's and today's own, oldest first, as yyyy-mm."""
    months = []
    year, month = today.year, today.month
    for _ in range(count + 1):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]

"""CRM records in the main table: one module stores every kind (described by a leadstream.records.RecordType).

Every write is one TransactWriteItems that holds the record itself, conditioned on its version (so a
stale write changes nothing), the history entry of that version (so every change is recorded with it or
not at all), the account timeline entry when the change belongs there, and the claims of unique values.
Reads are one GetItem or one Query each; nothing here scans.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from leadstream import keys
from leadstream.errors import BadRequest, Conflict, NotFound, PreconditionFailed, ServiceUnavailable
from leadstream.pagination import decode_cursor, encode_cursor
from leadstream.records import (
    Actor,
    FieldChange,
    HistoryEntry,
    RecordType,
    TimelineEntry,
    diff,
    now_utc,
)
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef
    from pydantic import BaseModel

BAD_CURSOR = "`cursor` is not one this list returned; pass `nextCursor` from the last page of the same list."


@dataclass(frozen=True)
class ListQuery:
    """One page of one list: an index partition, optionally a sort-key range, and equality filters."""

    index: str | None  # "GSI1".."GSI3", or None for the table itself
    partition: str
    sort_from: str | None = None  # inclusive lower bound of the sort key
    sort_to: str | None = None  # inclusive upper bound (a prefix: "2026-03" covers all of March)
    sort_prefix: str | None = None
    newest_first: bool = True
    filters: Mapping[str, str | int | bool] = field(default_factory=dict)  # JSON name -> value
    limit: int = 50
    cursor: str | None = None

    @property
    def key_attributes(self) -> tuple[str, str]:
        if self.index is None:
            return "pk", "sk"
        number = self.index.removeprefix("GSI")
        return f"gsi{number}pk", f"gsi{number}sk"


@dataclass(frozen=True)
class Page[T]:
    items: list[T]
    next_cursor: str | None


# --- reads ---------------------------------------------------------------------------------------------
def get_record[M: BaseModel](kind: RecordType[M], record_id: str) -> M | None:
    item = get_item(_table(), kind.key(record_id), consistent=True)
    return kind.model.model_validate(plain_numbers(item)) if item else None


def get_records[M: BaseModel](kind: RecordType[M], record_ids: Sequence[str]) -> dict[str, M]:
    """Records by id (one BatchGetItem per 100); missing ones are absent from the result."""
    items = batch_get(_table(), [kind.key(record_id) for record_id in record_ids])
    records = [kind.model.model_validate(plain_numbers(item)) for item in items]
    return {kind.record_id(record): record for record in records}


def find_unique[M: BaseModel](kind: RecordType[M], field_name: str, value: str) -> str | None:
    """The id of the record of `kind` that holds a unique value, if any."""
    item = get_item(_table(), keys.unique_key(kind.kind, field_name, value.strip().lower()), consistent=True)
    return str(item["recordId"]) if item else None


def list_records[M: BaseModel](kind: RecordType[M], query: ListQuery) -> Page[M]:
    items, cursor = query_page(query)
    return Page([kind.model.model_validate(item) for item in items], cursor)


def history(kind: RecordType[Any], record_id: str, *, limit: int, cursor: str | None) -> Page[HistoryEntry]:
    """A record's changes, newest first (they outlive the record: a deleted record's history stays)."""
    partition = kind.key(record_id)["pk"]
    items, next_cursor = query_page(
        ListQuery(None, partition, sort_prefix=keys.HISTORY_PREFIX, limit=limit, cursor=cursor)
    )
    return Page([HistoryEntry.model_validate(item) for item in items], next_cursor)


def timeline(account_id: str, *, limit: int, cursor: str | None) -> Page[TimelineEntry]:
    partition = keys.record_key("account", account_id)["pk"]
    items, next_cursor = query_page(
        ListQuery(None, partition, sort_prefix=keys.TIMELINE_PREFIX, limit=limit, cursor=cursor)
    )
    return Page([TimelineEntry.model_validate(item) for item in items], next_cursor)


def query_page(query: ListQuery) -> tuple[list[dict[str, Any]], str | None]:
    """One Query call: at most `limit` items and the cursor of the next page. With filters a page may hold
    fewer items than the limit (DynamoDB filters after reading); only a missing cursor means the end."""
    from leadstream.aws import dynamodb

    pk_name, sk_name = query.key_attributes
    names = {"#pk": pk_name}
    values: dict[str, Any] = {":pk": query.partition}
    condition = "#pk = :pk"
    if query.sort_prefix or query.sort_from or query.sort_to:
        names["#sk"] = sk_name
        condition += " AND " + _sort_condition(query, values)
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": condition,
        "ScanIndexForward": not query.newest_first,
        "Limit": query.limit,
    }
    if query.index:
        request["IndexName"] = query.index
    if query.filters:
        clauses = []
        for number, (name, value) in enumerate(sorted(query.filters.items())):
            names[f"#f{number}"] = name
            values[f":f{number}"] = value
            clauses.append(f"#f{number} = :f{number}")
        request["FilterExpression"] = " AND ".join(clauses)
    request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"] = serialize(values)
    start = _start_key(query)
    if start:
        request["ExclusiveStartKey"] = start
    response = dynamodb().query(**request)
    items = [plain_numbers(deserialize(item)) for item in response.get("Items", [])]
    last = response.get("LastEvaluatedKey")
    return items, encode_cursor(dict(last) if last else None)


def plain_numbers(value: Any) -> Any:
    """DynamoDB numbers come back as Decimals; JSON has integers and floats. Amounts never pass here as
    numbers (they are stored as exact decimal strings), so only counts and custom field values do."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain_numbers(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [plain_numbers(inner) for inner in value]
    return value


def _sort_condition(query: ListQuery, values: dict[str, Any]) -> str:
    if query.sort_prefix:
        values[":prefix"] = query.sort_prefix
        return "begins_with(#sk, :prefix)"
    # Sort keys are "<date or time>#<id>": "~" sorts after every character of both, so a bound of
    # "2026-03-31~" takes in all of that day.
    if query.sort_from and query.sort_to:
        values |= {":low": query.sort_from, ":high": query.sort_to + "~"}
        return "#sk BETWEEN :low AND :high"
    if query.sort_from:
        values[":low"] = query.sort_from
        return "#sk >= :low"
    values[":high"] = f"{query.sort_to}~"
    return "#sk <= :high"


def _start_key(query: ListQuery) -> dict[str, Any] | None:
    """The cursor as an ExclusiveStartKey, only if it is a key of this very list (else 400, never 500)."""
    start = decode_cursor(query.cursor)
    if start is None:
        return None
    pk_name, sk_name = query.key_attributes
    expected = {"pk", "sk", pk_name, sk_name}
    if set(start) != expected or start[pk_name] != {"S": query.partition}:
        raise BadRequest(BAD_CURSOR)
    if not all(set(value) == {"S"} and isinstance(value["S"], str) for value in start.values()):
        raise BadRequest(BAD_CURSOR)
    return start


# --- writes --------------------------------------------------------------------------------------------
def create_record[M: BaseModel](
    kind: RecordType[M], record: M, actor: Actor, *, action: str = "created"
) -> HistoryEntry:
    """Store a new record (Conflict if its id exists or was used before, or a unique value is taken)."""
    return _write(kind, None, record, _Change(actor, action, diff(None, kind.document(record))))


def update_record[M: BaseModel](
    kind: RecordType[M], before: M, after: M, actor: Actor, *, action: str = "updated"
) -> tuple[M, HistoryEntry | None]:
    """Store `after` as the next version of `before`, if `before` is still current (PreconditionFailed if
    someone changed it meanwhile, NotFound if it was deleted). A patch that changes nothing writes nothing."""
    stamped = after.model_copy(update=_bookkeeping(kind, version=kind.version(before) + 1, actor=actor))
    changes = diff(kind.document(before), kind.document(stamped))
    if not changes:
        return before, None
    return stamped, _write(kind, before, stamped, _Change(actor, action, changes))


def delete_record[M: BaseModel](kind: RecordType[M], before: M, actor: Actor) -> HistoryEntry:
    changes = diff(kind.document(before), None)
    return _write(kind, before, None, _Change(actor, "deleted", changes))


def stamp_new[M: BaseModel](kind: RecordType[M], record: M, actor: Actor) -> M:
    """A new record with version 1 and its creation bookkeeping set."""
    moment = now_utc()
    update: dict[str, Any] = {"version": 1, "created_at": moment, "updated_at": moment}
    if "created_by" in kind.model.model_fields:
        update |= {"created_by": actor.user_id, "updated_by": actor.user_id}
    return record.model_copy(update=update)


def _bookkeeping(kind: RecordType[Any], *, version: int, actor: Actor) -> dict[str, Any]:
    update: dict[str, Any] = {"version": version, "updated_at": now_utc()}
    if "updated_by" in kind.model.model_fields:
        update["updated_by"] = actor.user_id
    return update


def _write[M: BaseModel](
    kind: RecordType[M], before: M | None, after: M | None, change: _Change
) -> HistoryEntry:
    current = after if after is not None else before
    assert current is not None
    record_id = kind.record_id(current)
    version = kind.version(after) if after is not None else kind.version(current) + 1
    entry = HistoryEntry(
        kind=kind.kind,
        record_id=record_id,
        version=version,
        action=change.action,
        at=now_utc(),
        by=change.actor.user_id,
        by_name=change.actor.username or None,
        changes=change.changes,
    )
    writes = _Writes(_table())
    writes.record(kind, before, after)
    history_key = keys.history_key(kind.kind, record_id, version)
    writes.put({**history_key, **entry.model_dump(by_alias=True, mode="json")}, "attribute_not_exists(pk)")
    placed = kind.timeline_entry(before, after, change.changes, change.actor, change.action)
    if placed is not None:
        account_id, line = placed
        document = line.model_dump(by_alias=True, mode="json")
        timeline_key = keys.timeline_key(account_id, document["at"], kind.kind, record_id, version)
        writes.put({**timeline_key, "accountId": account_id, **document}, None)
    writes.unique_claims(kind, record_id, before, after)
    writes.commit(kind, record_id, before)
    return entry


@dataclass(frozen=True)
class _Change:
    actor: Actor
    action: str
    changes: list[FieldChange]


class _Writes:
    """The items of one transaction, remembering which one claims a unique value (to explain a refusal)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.items: list[TransactWriteItemTypeDef] = []
        self.claims: dict[int, str] = {}  # position -> field whose value the item claims

    def put(self, item: Mapping[str, Any], condition: str | None) -> None:
        put: dict[str, Any] = {"TableName": self.table, "Item": serialize(item)}
        if condition:
            put |= {"ConditionExpression": condition, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        self.items.append(cast("TransactWriteItemTypeDef", {"Put": put}))

    def record[M: BaseModel](self, kind: RecordType[M], before: M | None, after: M | None) -> None:
        """The record itself: a new one only if its id is free, a change only if `before` is current."""
        if before is None:
            assert after is not None
            self.put(kind.item(after), "attribute_not_exists(pk)")
            return
        condition = {
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": {"N": str(kind.version(before))}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if after is None:
            key = serialize(kind.key(kind.record_id(before)))
            delete = {"TableName": self.table, "Key": key, **condition}
            self.items.append(cast("TransactWriteItemTypeDef", {"Delete": delete}))
        else:
            put = {"TableName": self.table, "Item": serialize(kind.item(after)), **condition}
            self.items.append(cast("TransactWriteItemTypeDef", {"Put": put}))

    def unique_claims[M: BaseModel](
        self, kind: RecordType[M], record_id: str, before: M | None, after: M | None
    ) -> None:
        """Claim each new unique value (only if nobody holds it); release each old one (only if ours)."""
        old = kind.unique_values(before) if before is not None else {}
        new = kind.unique_values(after) if after is not None else {}
        for name in kind.unique_fields:
            if old.get(name) == new.get(name):
                continue
            if name in old:
                delete = {
                    "TableName": self.table,
                    "Key": serialize(keys.unique_key(kind.kind, name, old[name])),
                    "ConditionExpression": "recordId = :id",
                    "ExpressionAttributeValues": {":id": {"S": record_id}},
                }
                self.items.append(cast("TransactWriteItemTypeDef", {"Delete": delete}))
            if name in new:
                self.claims[len(self.items)] = name
                claim = {**keys.unique_key(kind.kind, name, new[name]), "recordId": record_id, "field": name}
                self.put(claim, "attribute_not_exists(pk)")

    def commit[M: BaseModel](self, kind: RecordType[M], record_id: str, before: M | None) -> None:
        from botocore.exceptions import ClientError

        from leadstream.aws import dynamodb

        try:
            dynamodb().transact_write_items(TransactItems=self.items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = list(exc.response.get("CancellationReasons") or [])
            raise self.refusal(reasons, kind, record_id, before) or exc from None

    def refusal[M: BaseModel](
        self, reasons: list[Any], kind: RecordType[M], record_id: str, before: M | None
    ) -> Exception | None:
        """Why DynamoDB refused the transaction, as the error the client needs (None: not ours to explain)."""
        codes = [reason.get("Code") for reason in reasons]
        if {"ThrottlingError", "ProvisionedThroughputExceeded"} & set(codes):
            return ServiceUnavailable("Storage is busy; retry the request shortly.")
        if "TransactionConflict" in codes:
            return Conflict(f"Another change to this {kind.kind} is in progress; read it again and retry.")
        failed = [index for index, code in enumerate(codes) if code == "ConditionalCheckFailed"]
        if not failed:
            return None
        index, held = failed[0], deserialize(reasons[failed[0]].get("Item") or {})
        if index == 0 and before is not None:
            return _stale(kind, record_id, held)
        if index in self.claims:
            alias = kind.aliases.get(self.claims[index], self.claims[index])
            holder = held.get("recordId", "another record")
            return Conflict(
                f"Another {kind.kind} ({holder}) already has this {alias}; each {kind.kind} needs its own.",
                errors=[{"field": alias, "message": f"already used by {kind.kind} {holder}"}],
            )
        return Conflict(f"A {kind.kind} with id {record_id} exists or existed; create it under a new id.")


def _stale(kind: RecordType[Any], record_id: str, current: Mapping[str, Any]) -> Exception:
    if not current:
        return NotFound(f"No {kind.kind} {record_id}: it was deleted meanwhile.")
    return PreconditionFailed(
        f"This {kind.kind} changed meanwhile (it is now version {current.get('version')}); read it "
        "again, apply your change to the current version and send that version's ETag in If-Match."
    )


def _table() -> str:
    return get_settings().main_table

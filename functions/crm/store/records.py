"""CRM records in the main table: one module stores every kind (described by a crm.records.RecordType).

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

from botocore.exceptions import ClientError

from crm.records import Actor, FieldChange, HistoryEntry, RecordType, TimelineEntry, diff
from leadstream import clock, keys
from leadstream.aws import dynamodb
from leadstream.errors import BadRequest, Conflict, NotFound, PreconditionFailed, ServiceUnavailable
from leadstream.pagination import decode_cursor, encode_cursor
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


def get_many(wanted: Sequence[tuple[RecordType[Any], str]]) -> dict[tuple[str, str], Any]:
    """Records of several kinds in one BatchGetItem: {(kind, id): record} for those that exist."""
    kinds = {kind.kind: kind for kind, _ in wanted}
    items = batch_get(_table(), [kind.key(record_id) for kind, record_id in wanted])
    found = {}
    for item in items:
        tag, _, record_id = str(item["pk"]).partition("#")
        kind = kinds[tag.lower()]
        found[(kind.kind, record_id)] = kind.model.model_validate(plain_numbers(item))
    return found


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
@dataclass(frozen=True)
class RecordWrite:
    """One record's change within a transaction: create (`before` None), update, or delete (`after` None).
    `recorded_only`: the record itself was stored elsewhere (by the lifecycle functions, with its profile);
    only its history and timeline entries are written here."""

    kind: RecordType[Any]
    before: Any
    after: Any
    action: str
    changes: list[FieldChange]
    recorded_only: bool = False

    @property
    def current(self) -> Any:
        return self.after if self.after is not None else self.before

    @property
    def record_id(self) -> str:
        return self.kind.record_id(self.current)

    @property
    def version(self) -> int:
        """The version this change makes (a delete makes one more, so its history entry has its own)."""
        return self.kind.version(self.after) if self.after is not None else self.kind.version(self.before) + 1


def creation[M: BaseModel](kind: RecordType[M], record: M, *, action: str = "created") -> RecordWrite:
    return RecordWrite(kind, None, record, action, diff(None, kind.document(record)))


def change[M: BaseModel](
    kind: RecordType[M], before: M, after: M, actor: Actor, *, action: str = "updated"
) -> RecordWrite | None:
    """`after` as the next version of `before` (version and update bookkeeping set); None: nothing changed."""
    stamped = after.model_copy(update=_bookkeeping(kind, version=kind.version(before) + 1, actor=actor))
    changes = diff(kind.document(before), kind.document(stamped))
    return RecordWrite(kind, before, stamped, action, changes) if changes else None


def deletion[M: BaseModel](kind: RecordType[M], before: M) -> RecordWrite:
    return RecordWrite(kind, before, None, "deleted", diff(kind.document(before), None))


def create_record[M: BaseModel](
    kind: RecordType[M], record: M, actor: Actor, *, action: str = "created"
) -> HistoryEntry:
    """Store a new record (Conflict if its id exists or was used before, or a unique value is taken)."""
    return commit([creation(kind, record, action=action)], actor)[0]


def update_record[M: BaseModel](
    kind: RecordType[M], before: M, after: M, actor: Actor, *, action: str = "updated"
) -> tuple[M, HistoryEntry | None]:
    """Store `after` as the next version of `before`, if `before` is still current (PreconditionFailed if
    someone changed it meanwhile, NotFound if it was deleted). A change of nothing writes nothing."""
    write = change(kind, before, after, actor, action=action)
    if write is None:
        return before, None
    return write.after, commit([write], actor)[0]


def delete_record[M: BaseModel](kind: RecordType[M], before: M, actor: Actor) -> HistoryEntry:
    return commit([deletion(kind, before)], actor)[0]


def history_items[M: BaseModel](
    kind: RecordType[M], before: M | None, after: M, actor: Actor, *, action: str
) -> list[TransactWriteItemTypeDef]:
    """The history (and timeline) items of a change that other code stores, to go into its transaction
    (a lead accepted with its profile, a lead created by scoring). None when nothing changed."""
    changes = diff(kind.document(before) if before is not None else {}, kind.document(after))
    if not changes:
        return []
    transaction = _Transaction(_table())
    transaction.add(RecordWrite(kind, before, after, action, changes, recorded_only=True), actor)
    return transaction.items


def stamp_new[M: BaseModel](kind: RecordType[M], record: M, actor: Actor) -> M:
    """A new record with version 1 and its creation bookkeeping set."""
    moment = clock.now()
    update: dict[str, Any] = {"version": 1, "created_at": moment, "updated_at": moment}
    if "created_by" in kind.model.model_fields:
        update |= {"created_by": actor.user_id, "updated_by": actor.user_id}
    return record.model_copy(update=update)


def commit(writes: Sequence[RecordWrite], actor: Actor) -> list[HistoryEntry]:
    """Store several records' changes in one transaction: all of them, or none (a lead's conversion)."""
    transaction = _Transaction(_table())
    entries = [transaction.add(write, actor) for write in writes]
    transaction.commit()
    return entries


def _bookkeeping(kind: RecordType[Any], *, version: int, actor: Actor) -> dict[str, Any]:
    update: dict[str, Any] = {"version": version, "updated_at": clock.now()}
    if "updated_by" in kind.model.model_fields:
        update["updated_by"] = actor.user_id
    return update


@dataclass(frozen=True)
class _Role:
    """What an item of the transaction is for: to explain a refusal."""

    write: RecordWrite
    part: str  # "record", "history", "timeline", "claim"
    field: str | None = None  # the unique field a claim is for


class _Transaction:
    def __init__(self, table: str) -> None:
        self.table = table
        self.items: list[TransactWriteItemTypeDef] = []
        self.roles: list[_Role] = []

    def add(self, write: RecordWrite, actor: Actor) -> HistoryEntry:
        entry = HistoryEntry(
            kind=write.kind.kind,
            record_id=write.record_id,
            version=write.version,
            action=write.action,
            at=clock.now(),
            by=actor.user_id,
            by_name=actor.username or None,
            changes=write.changes,
        )
        if not write.recorded_only:
            self._record(write)
        history = {
            **keys.history_key(write.kind.kind, write.record_id, write.version),
            **entry.model_dump(by_alias=True, mode="json"),
        }
        self._put(
            _Role(write, "history"), history, None if write.recorded_only else "attribute_not_exists(pk)"
        )
        placed = write.kind.timeline_entry(write.before, write.after, write.changes, actor, write.action)
        if placed is not None:
            account_id, line = placed
            document = line.model_dump(by_alias=True, mode="json")
            key = keys.timeline_key(
                account_id, document["at"], write.kind.kind, write.record_id, write.version
            )
            self._put(_Role(write, "timeline"), {**key, "accountId": account_id, **document}, None)
        if not write.recorded_only:
            self._unique_claims(write)
        return entry

    def _put(self, role: _Role, item: Mapping[str, Any], condition: str | None) -> None:
        put: dict[str, Any] = {"TableName": self.table, "Item": serialize(item)}
        if condition:
            put |= {"ConditionExpression": condition, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        self._append(role, {"Put": put})

    def _append(self, role: _Role, item: dict[str, Any]) -> None:
        self.items.append(cast("TransactWriteItemTypeDef", item))
        self.roles.append(role)

    def _record(self, write: RecordWrite) -> None:
        """The record itself: a new one only if its id is free, a change only if `before` is current."""
        kind, role = write.kind, _Role(write, "record")
        if write.before is None:
            self._put(role, kind.item(write.after), "attribute_not_exists(pk)")
            return
        condition = {
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": {"N": str(kind.version(write.before))}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if write.after is None:
            key = serialize(kind.key(write.record_id))
            self._append(role, {"Delete": {"TableName": self.table, "Key": key, **condition}})
        else:
            self._append(
                role,
                {"Put": {"TableName": self.table, "Item": serialize(kind.item(write.after)), **condition}},
            )

    def _unique_claims(self, write: RecordWrite) -> None:
        """Claim each new unique value (only if nobody holds it); release each old one (only if ours)."""
        kind = write.kind
        old = kind.unique_values(write.before) if write.before is not None else {}
        new = kind.unique_values(write.after) if write.after is not None else {}
        for name in kind.unique_fields:
            if old.get(name) == new.get(name):
                continue
            if name in old:
                delete = {
                    "TableName": self.table,
                    "Key": serialize(keys.unique_key(kind.kind, name, old[name])),
                    "ConditionExpression": "recordId = :id",
                    "ExpressionAttributeValues": {":id": {"S": write.record_id}},
                }
                self._append(_Role(write, "release", name), {"Delete": delete})
            if name in new:
                claim = {**keys.unique_key(kind.kind, name, new[name]), "recordId": write.record_id}
                self._put(_Role(write, "claim", name), claim, "attribute_not_exists(pk)")

    def commit(self) -> None:
        try:
            dynamodb().transact_write_items(TransactItems=self.items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = list(exc.response.get("CancellationReasons") or [])
            raise self._refusal(reasons) or exc from None

    def _refusal(self, reasons: list[Any]) -> Exception | None:
        """Why DynamoDB refused the transaction, as the error the client needs (None: not ours to explain)."""
        codes = [reason.get("Code") for reason in reasons]
        if {"ThrottlingError", "ProvisionedThroughputExceeded"} & set(codes):
            return ServiceUnavailable("Storage is busy; retry the request shortly.")
        if "TransactionConflict" in codes:
            return Conflict("Another change to the same records is in progress; read them again and retry.")
        failed = [index for index, code in enumerate(codes) if code == "ConditionalCheckFailed"]
        if not failed:
            return None
        role, held = self.roles[failed[0]], deserialize(reasons[failed[0]].get("Item") or {})
        return _explained(role, held)


def _explained(role: _Role, held: Mapping[str, Any]) -> Exception:
    """The client's error for the item whose condition failed (`held`: what is stored there now)."""
    kind, record_id = role.write.kind, role.write.record_id
    if role.part == "record" and role.write.before is not None:
        return _stale(kind, record_id, held)
    if role.part == "claim" and role.field:
        alias = kind.aliases.get(role.field, role.field)
        holder = held.get("recordId", "another record")
        return Conflict(
            f"Another {kind.kind} ({holder}) already has this {alias}; each {kind.kind} needs its own.",
            errors=[{"field": alias, "message": f"already used by {kind.kind} {holder}"}],
        )
    if role.part == "release":
        return Conflict(f"This {kind.kind} changed meanwhile; read it again and retry.")
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

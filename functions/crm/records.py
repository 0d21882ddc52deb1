"""CRM records in general: what every kind (account, contact, deal, quote ...) has in common.

A kind is described once by a `RecordType`: its model, which of its fields feed the three list indexes,
which must be unique, which changes go on an account's timeline. crm.store.records stores every
kind with the same code from that description: conditional writes on `version`, and in the same
transaction an entry of the record's history (who, when, each field before and after).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from leadstream import clock, keys
from leadstream.models import Model
from leadstream.profiles import UtcTime, iso_utc

if TYPE_CHECKING:
    from leadstream.auth import Principal

# Fields every write sets itself; a change to them alone is not a change anyone made.
BOOKKEEPING = frozenset({"version", "updatedAt", "updatedBy"})


class Actor(Protocol):
    """Who makes a change: a signed-in user (leadstream.auth.Principal) or the system."""

    @property
    def user_id(self) -> str: ...

    @property
    def username(self) -> str: ...


@dataclass(frozen=True)
class SystemActor:
    user_id: str = "system"
    username: str = "leadstream"


SYSTEM = SystemActor()


class CrmRecord(Model):
    """The fields every CRM record carries. `version` starts at 1 and grows by one with each change; it is
    the record's ETag, and every write is conditional on it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    version: int = Field(default=1, ge=1)
    created_at: UtcTime = Field(alias="createdAt")
    updated_at: UtcTime = Field(alias="updatedAt")
    created_by: str | None = Field(default=None, alias="createdBy", description="user id (token `sub`)")
    updated_by: str | None = Field(default=None, alias="updatedBy", description="user id (token `sub`)")


class FieldChange(Model):
    model_config = ConfigDict(populate_by_name=True)

    field: str = Field(description='JSON name; a key of a map field reads "customFields.region"')
    before: JsonValue = None
    after: JsonValue = None


class HistoryEntry(Model):
    """One change of one record: the version it produced, who made it, and each field before and after."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    kind: str
    record_id: str = Field(alias="recordId")
    version: int
    action: str = Field(description="created, updated, deleted, or a named action such as converted")
    at: UtcTime
    by: str = Field(description="user id (token `sub`) of who made the change")
    by_name: str | None = Field(default=None, alias="byName")
    changes: list[FieldChange] = Field(default_factory=list)


class TimelineEntry(Model):
    """Something that happened on an account or a record linked to it, as its timeline shows it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    at: UtcTime
    kind: str
    record_id: str = Field(alias="recordId")
    version: int
    action: str
    summary: str
    by: str
    details: dict[str, JsonValue] = Field(default_factory=dict)


@dataclass(frozen=True)
class RecordType[M: BaseModel]:
    """How one kind of record is stored and listed. Field names are the model's Python names."""

    kind: str  # "deal": key tag, history and timeline name
    plural: str  # "deals": URL segment
    model: type[M]
    id_field: str  # "deal_id"
    title_field: str  # what names a record on a timeline: "name", "subject"
    sort_field: str = "created_at"  # a date or time: the order of every list and its date-range filter
    owner_field: str | None = "owner_id"  # GSI2: the owner's list
    account_field: str | None = "account_id"  # GSI3: the account's list (and its timeline)
    unique_fields: tuple[str, ...] = ()  # values no two records of this kind may share (case-insensitive)
    timeline_fields: tuple[str, ...] = ()  # a change of these puts an entry on the account's timeline
    own_timeline: bool = False  # accounts: a record whose own timeline it is
    # A kind whose item shape is owned elsewhere (leads: crm.lead_record.lead_item).
    item_builder: Callable[[M], dict[str, Any]] | None = None
    # Who may see a record at all (leads: sales never sees rejected, disqualified or recycled ones).
    visible: Callable[[M, Principal], bool] | None = None
    aliases: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {name: info.alias or name for name, info in self.model.model_fields.items()}
        object.__setattr__(self, "aliases", names)

    # --- reading a record ------------------------------------------------------------------------
    def record_id(self, record: M) -> str:
        return str(getattr(record, self.id_field))

    def version(self, record: M) -> int:
        return int(record.version)  # type: ignore[attr-defined]

    def document(self, record: M) -> dict[str, Any]:
        """The record as JSON (aliases, no nulls): what is stored, diffed and returned."""
        return record.model_dump(by_alias=True, mode="json", exclude_none=True)

    def owner(self, record: M) -> str | None:
        return _text(getattr(record, self.owner_field)) if self.owner_field else None

    def account(self, record: M) -> str | None:
        return _text(getattr(record, self.account_field)) if self.account_field else None

    def timeline_account(self, record: M) -> str | None:
        return self.record_id(record) if self.own_timeline else self.account(record)

    def title(self, record: M) -> str:
        return _text(getattr(record, self.title_field)) or self.record_id(record)

    def unique_values(self, record: M) -> dict[str, str]:
        values = {name: _text(getattr(record, name)) for name in self.unique_fields}
        return {name: value.strip().lower() for name, value in values.items() if value}

    def is_visible(self, record: M, principal: Principal) -> bool:
        return self.visible is None or self.visible(record, principal)

    # --- storing a record ------------------------------------------------------------------------
    def key(self, record_id: str) -> dict[str, str]:
        return keys.record_key(self.kind, record_id)

    def item(self, record: M) -> dict[str, Any]:
        if self.item_builder is not None:
            return self.item_builder(record)
        record_id = self.record_id(record)
        indexes = keys.record_indexes(
            self.kind,
            record_id=record_id,
            sort_value=sort_text(getattr(record, self.sort_field)),
            owner_id=self.owner(record),
            account_id=self.account(record),
        )
        return {**self.key(record_id), **indexes, **self.document(record)}

    def timeline_entry(
        self, before: M | None, after: M | None, changes: list[FieldChange], actor: Actor, action: str
    ) -> tuple[str, TimelineEntry] | None:
        """(account id, entry) when this change belongs on an account's timeline, else None."""
        record = after if after is not None else before
        assert record is not None
        account_id = self.timeline_account(record)
        if not account_id:
            return None
        watched = {self.aliases[name] for name in self.timeline_fields}
        shown = [change for change in changes if change.field in watched]
        if action == "updated" and not shown:
            return None
        summary = f"{self.kind.capitalize()} {action}: {self.title(record)}"
        if action == "updated":
            moves = "; ".join(f"{c.field} {_brief(c.before)} → {_brief(c.after)}" for c in shown)
            summary = f"{self.kind.capitalize()} {self.title(record)}: {moves}"
        details = {change.field: change.after for change in shown}
        version = self.version(record) + (1 if after is None else 0)
        entry = TimelineEntry(
            at=clock.now(),
            kind=self.kind,
            record_id=self.record_id(record),
            version=version,
            action=action,
            summary=summary,
            by=actor.user_id,
            details=details,
        )
        return account_id, entry


def sort_text(value: Any) -> str:
    """A date or time as its index sort key: UTC ISO-8601, so string order is time order."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[FieldChange]:
    """Field-level changes between two JSON documents; a map field (customFields, address) is compared
    key by key, so changing one custom field records one change, not the whole map."""
    old, new = before or {}, after or {}
    changes = []
    for name in sorted((old.keys() | new.keys()) - BOOKKEEPING):
        was, now = old.get(name), new.get(name)
        if was == now:
            continue
        if isinstance(was, dict | None) and isinstance(now, dict | None) and (was or now):
            changes += [
                FieldChange(field=f"{name}.{change.field}", before=change.before, after=change.after)
                for change in diff(was, now)
            ]
        else:
            changes.append(FieldChange(field=name, before=was, after=now))
    return changes


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: a member set to null is removed, an object is merged member by member,
    anything else replaces."""
    merged = dict(target)
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = merge_patch(merged[name], value)
        elif isinstance(value, Mapping):
            merged[name] = merge_patch({}, value)
        else:
            merged[name] = value
    return merged


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _brief(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."

"""Account imports: one row of a file becomes one CRM account, matched so that a re-run creates nothing
new. Pure logic, no AWS (customerdata.account_import runs it).

A row is matched to an account by, in order: its `accountId` (a Leadstream account named outright), its
ids in other systems (Salesforce, HubSpot, `ext:<system>`), its web domain (lower case, without scheme,
`www.` or path), and only when it has none of those, its name (case and spacing ignored). A row matched
by nothing creates an account whose id derives from its strongest key, so a chunk that runs again finds
the account it made.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm.import_records import AccountRefused, check_account
from customerdata.imports import (
    ACCOUNT_ADDRESS_FIELDS,
    EXTERNAL_FIELDS,
    EXTERNAL_PREFIX,
    IMPORT_NAMESPACE,
    RowError,
    row_fields,
)
from scoring.external_ids import external_id

type MatchKey = tuple[str, str]  # (ext | domain | name, the normalised value)

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TOP_LEVEL = (
    "name",
    "domain",
    "industry",
    "size",
    "employees",
    "phone",
    "description",
    "ownerId",
    "parentId",
)


@dataclass
class AccountRow:
    fields: dict[str, Any]  # the account's fields (JSON names), checked as a create checks them
    keys: list[MatchKey]  # strongest first
    account_id: str | None = None  # named by the row (accountId column)
    column_of: dict[str, str] = field(default_factory=dict)

    @property
    def identifying(self) -> list[MatchKey]:
        """The keys a match is looked up by: the ids and the domain, or the name when there is neither."""
        strong = [key for key in self.keys if key[0] != "name"]
        return strong or self.keys

    def new_account_id(self) -> str:
        kind, value = self.identifying[0]
        return str(uuid.uuid5(IMPORT_NAMESPACE, f"account\n{kind}\n{value}"))


def account_row(values: Mapping[str, Any], columns: Mapping[str, str | None]) -> AccountRow:
    """The account a row describes; RowError (column, reason) when it cannot be imported."""
    fields, column_of = row_fields("accounts", values, columns)
    keys: list[MatchKey] = []
    for name in [name for name in fields if name in EXTERNAL_FIELDS or name.startswith(EXTERNAL_PREFIX)]:
        raw = fields.pop(name)
        system = EXTERNAL_FIELDS.get(name) or name.removeprefix(EXTERNAL_PREFIX)
        ref = external_id(system, raw if isinstance(raw, str | int) else str(raw))
        if ref is None:
            raise RowError(column_of[name], f"{str(raw)[:80]!r} is not an id of {system}")
        keys.append(("ext", ref.value))
    account_id = fields.pop("accountId", None)
    if account_id is not None and not re.match(r"^[A-Za-z0-9_-]{1,64}$", str(account_id)):
        raise RowError(column_of["accountId"], f"{str(account_id)[:80]!r} is not an account id")
    if "domain" in fields:
        fields["domain"] = domain_of(str(fields["domain"]), column_of["domain"])
        keys.append(("domain", fields["domain"]))
    if "name" not in fields:
        header = next((header for header, mapped in columns.items() if mapped == "name"), "name")
        raise RowError(header, "the name is empty")
    country = fields.get("country")
    if country is not None and not re.match(r"^[A-Za-z]{2}$", str(country).strip()):
        raise RowError(
            column_of["country"], f"{str(country)[:40]!r} is not a country code: write two letters (DE, US)"
        )
    if "employees" in fields:
        fields["employees"] = _count(fields["employees"], column_of["employees"])
    document = _document(fields)
    try:
        checked = check_account(document)
    except AccountRefused as exc:
        raise RowError(_column_for(exc.field, column_of), exc.reason) from None
    keys.append(("name", name_key(str(checked["name"]))))
    return AccountRow(checked, keys, str(account_id) if account_id is not None else None, column_of)


def _document(fields: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {name: fields.pop(name) for name in _TOP_LEVEL if name in fields}
    address = {name: fields.pop(name) for name in ACCOUNT_ADDRESS_FIELDS if name in fields}
    if address:
        document["address"] = address
    if fields:
        document["customFields"] = fields
    return {name: str(value) if name not in ("employees", "customFields", "address") else value
            for name, value in document.items()}  # fmt: skip


def _column_for(field_path: str, column_of: Mapping[str, str]) -> str:
    last = field_path.rsplit(".", maxsplit=1)[-1]
    return column_of.get(last) or column_of.get(field_path) or field_path


def domain_of(text: str, column: str) -> str:
    """A web domain as accounts hold it: `https://www.Example.com/about` → example.com."""
    domain = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text.strip().lower())
    domain = re.split(r"[/?#:]", domain, maxsplit=1)[0].removeprefix("www.").rstrip(".")
    if not _DOMAIN.match(domain):
        raise RowError(column, f"{text[:80]!r} is not a web domain (example.com)")
    return domain


def name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def _count(value: Any, column: str) -> int:
    text = str(value).strip().replace(",", "").replace(" ", "").replace("_", "")
    if not text.isdigit() or len(text) > 8:
        raise RowError(column, f"{str(value)[:40]!r} is not a number of employees")
    return int(text)

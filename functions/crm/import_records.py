"""What an import (customerdata) writes of CRM records: accounts, created or changed through the accounts
resource's own rules (its input model, its `prepare` hook, its history), as the person who imports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from crm.resources.accounts import ACCOUNT, ACCOUNTS, Account, AccountChanges, AccountFields
from crm.store import records as store
from leadstream.auth import Principal
from leadstream.errors import Conflict


class AccountRefused(ValueError):
    """The fields are not an account's: `field` (a JSON name, `address.country`) says which, `reason` why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def check_account(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields as an account create stores them (JSON names); AccountRefused names the first bad one."""
    try:
        return AccountFields.model_validate(dict(fields)).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "account"
        raise AccountRefused(field, str(error["msg"]).removeprefix("Value error, ")) from None


def get_accounts(account_ids: Sequence[str]) -> dict[str, Account]:
    """Accounts by id, one BatchGetItem per 100 (missing ones are absent)."""
    return store.get_records(ACCOUNT, list(dict.fromkeys(account_ids))) if account_ids else {}


def create_account(account_id: str, fields: Mapping[str, Any], principal: Principal) -> Account | None:
    """A new account with this id (the import derives it from the row's keys); None when the id exists or
    existed (a retried chunk made it already, or it was deleted since)."""
    body = AccountFields.model_validate(dict(fields))
    try:
        created: Account = ACCOUNTS.create(body, principal, account_id)
    except Conflict:
        return None
    return created


def changes_for(account: Account, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that brings `account` to the row's values (only the fields the row has; custom
    fields and the address key by key): empty when the account holds them already."""
    current = ACCOUNT.document(account)
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, Mapping):
            held = current.get(name) or {}
            nested = {key: item for key, item in value.items() if held.get(key) != item}
            if nested:
                changes[name] = nested
        elif current.get(name) != value:
            changes[name] = value
    return changes


def update_account(account: Account, changes: Mapping[str, Any], principal: Principal) -> Account:
    """Apply a merge patch (checked as a PATCH of the account is); PreconditionFailed if the account
    changed meanwhile."""
    AccountChanges.model_validate(dict(changes))
    updated: Account = ACCOUNTS.patch(account, changes, principal, action="imported")
    return updated

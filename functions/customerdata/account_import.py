"""One chunk of an account import: rows → CRM accounts (crm.import_records), matched by their keys
(customerdata.account_rows) so that nothing is made twice. A dry run reads and counts only.

Outcomes: `created` (a new account), `updated` (a matched account whose fields the row changes; custom
fields and the address key by key), `unchanged` (the account holds the row's values already), `rejected`.
"""

from __future__ import annotations

from collections.abc import Sequence

from crm.import_records import changes_for, create_account, get_accounts, update_account
from crm.resources.accounts import Account
from customerdata import reading
from customerdata.account_rows import AccountRow, MatchKey, account_row
from customerdata.imports import ImportCounts, ImportJob, RowError
from customerdata.store import accountmatch
from leadstream.auth import Principal


def run_chunk(
    job: ImportJob, rows: Sequence[reading.RawRow]
) -> tuple[ImportCounts, list[tuple[int, str, str]]]:
    """The chunk's counts and its rejected rows (row, column, reason)."""
    errors: list[tuple[int, str, str]] = []
    parsed: list[tuple[int, AccountRow]] = []
    for row in rows:
        if row.error:
            errors.append((row.number, "", row.error))
            continue
        try:
            parsed.append((row.number, account_row(row.values, job.columns or {})))
        except RowError as exc:
            errors.append((row.number, exc.column, exc.reason))
    matched = accountmatch.lookup({key for _, row in parsed for key in row.identifying})
    named = {row.account_id for _, row in parsed if row.account_id}
    accounts = get_accounts(sorted(named | set(matched.values())))
    principal = Principal(user_id=job.created_by, username="import", roles=frozenset())
    counts = ImportCounts(rows=len(rows))
    for number, account in parsed:
        try:
            outcome = _apply(job, account, matched, accounts, principal)
        except RowError as exc:
            errors.append((number, exc.column, exc.reason))
            continue
        setattr(counts, outcome, getattr(counts, outcome) + 1)
    counts.rejected = len(errors)
    return counts, errors


def _apply(
    job: ImportJob,
    row: AccountRow,
    matched: dict[MatchKey, str],
    accounts: dict[str, Account],
    principal: Principal,
) -> str:
    """Create or update the row's account; its outcome. The keys it matched by are claimed for it."""
    account_id = row.account_id or next((matched[key] for key in row.identifying if key in matched), None)
    if row.account_id and row.account_id not in accounts:
        raise RowError(row.column_of.get("accountId", "accountId"), f"there is no account {row.account_id}")
    account = accounts.get(account_id) if account_id else None
    if account is None:
        new_id = account_id or row.new_account_id()
        if job.dry_run:
            _remember(row, new_id, matched)
            return "created"
        created = create_account(new_id, row.fields, principal)
        if created is not None:
            accounts[new_id] = created
            _claim(row, new_id, matched)
            return "created"
        account = get_accounts([new_id]).get(new_id)  # made by an earlier run of this chunk
        if account is None:
            raise RowError("", f"the row matches account {new_id}, which was deleted")
    changes = changes_for(account, row.fields)
    account_id = account.account_id
    if not job.dry_run:
        if changes:
            accounts[account_id] = update_account(account, changes, principal)
        _claim(row, account_id, matched)
    else:
        _remember(row, account_id, matched)
    return "updated" if changes else "unchanged"


def _remember(row: AccountRow, account_id: str, matched: dict[MatchKey, str]) -> None:
    for key in row.keys:
        matched.setdefault(key, account_id)


def _claim(row: AccountRow, account_id: str, matched: dict[MatchKey, str]) -> None:
    free = [key for key in row.keys if key not in matched]
    if free:
        accountmatch.claim(free, account_id)
    _remember(row, account_id, matched)

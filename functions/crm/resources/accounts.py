"""Accounts: the companies sales sells to. A parent account groups subsidiaries; custom fields hold what
each company tracks beyond the standard fields (up to 200, no schema change)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from enum import StrEnum

from pydantic import ConfigDict, Field

from crm.api.framework import Resource, register_resource
from crm.api.models import (
    CountryCode,
    CrmInput,
    CustomFields,
    CustomFieldsPatch,
    LongText,
    Name,
    Phone,
    RecordId,
    ShortText,
    UserId,
)
from crm.records import CrmRecord, RecordType
from crm.store import records as store
from leadstream import keys
from leadstream.api import Api, ListParams
from leadstream.auth import CRM_PEOPLE_READ, CRM_WRITE, Principal
from leadstream.errors import Conflict, InvalidInput
from leadstream.models import Model
from leadstream.numbers import StorableIntOrNone

MAX_PARENT_DEPTH = 20


class AccountSize(StrEnum):
    """Employee count band."""

    MICRO = "1-10"
    SMALL = "11-50"
    MEDIUM = "51-200"
    LARGE = "201-1000"
    ENTERPRISE = "1001-5000"
    GLOBAL = "5001+"


class Address(Model):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    street: ShortText | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    postal_code: ShortText | None = Field(default=None, alias="postalCode")
    country: CountryCode | None = None


class AccountFields(CrmInput):
    """What a client may set on an account."""

    name: Name
    domain: ShortText | None = Field(default=None, description="web domain, e.g. example.com")
    industry: ShortText | None = None
    size: AccountSize | None = None
    employees: StorableIntOrNone = Field(default=None, ge=0, le=10_000_000)
    phone: Phone | None = None
    address: Address | None = None
    description: LongText | None = None
    parent_id: RecordId | None = Field(default=None, alias="parentId", description="the parent account")
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="default: the creator")
    custom_fields: CustomFields = Field(default_factory=dict, alias="customFields")


class TopPerson(Model):
    model_config = ConfigDict(populate_by_name=True)

    profile_id: str = Field(alias="profileId")
    name: str | None = None
    engagement: float


class AccountEngagement(Model):
    """The engagement of the account's people (its contacts' profiles and the people whose Segment `group`
    calls name the account), decayed to the moment of the read. Read-only: kept by the closed loop."""

    model_config = ConfigDict(populate_by_name=True)

    people: int = Field(description="people counted")
    summed: float = Field(description="the sum of their current engagement scores")
    top: list[TopPerson] = Field(default_factory=list, description="the most engaged, best first")


class Account(AccountFields, CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    account_id: RecordId = Field(alias="accountId")
    engagement: AccountEngagement | None = Field(
        default=None, description="read-only, on GET of one account: its people's engagement"
    )
    revenue: dict[str, str] | None = Field(
        default=None,
        description='read-only, on GET of one account: realized revenue per currency ({"EUR": "1200.00"})',
    )


class AccountChanges(CrmInput):
    """A PATCH of an account: only the fields sent change; null removes an optional field."""

    name: Name | None = None
    domain: ShortText | None = None
    industry: ShortText | None = None
    size: AccountSize | None = None
    employees: StorableIntOrNone = Field(default=None, ge=0, le=10_000_000)
    phone: Phone | None = None
    address: Address | None = None
    description: LongText | None = None
    parent_id: RecordId | None = Field(default=None, alias="parentId")
    owner_id: UserId | None = Field(default=None, alias="ownerId")
    custom_fields: CustomFieldsPatch | None = Field(default=None, alias="customFields")


class AccountQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's accounts; `me`")
    parent_id: RecordId | None = Field(default=None, alias="parentId", description="child accounts of one")
    industry: ShortText | None = None
    size: AccountSize | None = None
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


ACCOUNT = RecordType(
    kind="account",
    plural="accounts",
    model=Account,
    id_field="account_id",
    title_field="name",
    account_field="parent_id",  # GSI3 lists an account's child accounts
    own_timeline=True,
)


def prepare(account: Account, before: Account | None, principal: Principal) -> Account:
    """A parent must exist and must not be the account itself or one of its descendants."""
    if account.parent_id and (before is None or before.parent_id != account.parent_id):
        _check_parent(account.account_id, account.parent_id)
    return account


def _check_parent(account_id: str, parent_id: str) -> None:
    seen = {account_id}
    current: str | None = parent_id
    for _ in range(MAX_PARENT_DEPTH):
        if current is None:
            return
        if current in seen:
            raise InvalidInput(
                "parentId would make the account its own ancestor.",
                errors=[{"field": "parentId", "message": "creates a cycle"}],
            )
        seen.add(current)
        parent = store.get_record(ACCOUNT, current)
        if parent is None:
            raise InvalidInput(
                f"No account {current}.", errors=[{"field": "parentId", "message": "no such account"}]
            )
        current = parent.parent_id
    raise InvalidInput(
        f"Accounts nest at most {MAX_PARENT_DEPTH} levels deep.",
        errors=[{"field": "parentId", "message": "too deep"}],
    )


# Records that belong to an account and would be left pointing at nothing (their GSI3 lists).
DEPENDENT_KINDS = ("account", "contact", "deal")


def refuse_delete_with_dependents(account: Account, principal: Principal) -> None:
    """An account with child accounts, contacts or deals is not deleted (409): move or delete them first.
    One Query with Limit 1 per kind."""
    for kind in DEPENDENT_KINDS:
        index, partition = keys.record_list_partition(kind, account_id=account.account_id)
        items, _ = store.query_page(store.ListQuery(index, partition, limit=1))
        if items:
            what = "child accounts" if kind == "account" else f"{kind}s"
            raise Conflict(f"The account still has {what}; move or delete them before deleting the account.")


ACCOUNTS = Resource(
    record=ACCOUNT,
    create_model=AccountFields,
    patch_model=AccountChanges,
    query_model=AccountQuery,
    read=CRM_PEOPLE_READ,
    write=CRM_WRITE,
    tag="accounts",
    prepare=prepare,
    before_delete=refuse_delete_with_dependents,
)


def register(api: Api, *, present: Callable[[Account], Account] | None = None) -> None:
    """The account routes; `present` adds what the GET of one account shows beside the record."""
    register_resource(api, replace(ACCOUNTS, present=present) if present else ACCOUNTS)

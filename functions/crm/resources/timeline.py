"""An account's timeline: what happened on the account and the records linked to it (contacts, deals,
activities, notes, and whatever else carries its accountId: orders, tickets), newest first; and, on the
first page, the marketing side of its contacts (their profiles' first and last touch, last visit, stage).

The entries are written by crm.store.records with each change (same transaction), into the
account's own partition, so a page is one Query. The marketing part reads the account's contacts (one
Query) and their profiles (one BatchGetItem).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ConfigDict, Field

from crm.api.framework import RecordIdPath
from crm.records import TimelineEntry
from crm.resources.accounts import ACCOUNTS
from crm.resources.contacts import CONTACT
from crm.store import records as store
from leadstream import keys
from leadstream.api import Api, ListParams
from leadstream.auth import CRM_WRITE
from leadstream.models import Model
from leadstream.profiles import Touch, UtcTime
from leadstream.store.profiles import load_profiles

MAX_MARKETING_CONTACTS = 50


class ContactMarketing(Model):
    """What marketing knows about one contact of the account (from the contact's profile)."""

    model_config = ConfigDict(populate_by_name=True)

    contact_id: str = Field(alias="contactId")
    profile_id: str = Field(alias="profileId")
    stage: str | None = Field(default=None, description="lifecycle stage")
    first_seen: UtcTime | None = Field(default=None, alias="firstSeen")
    last_seen: UtcTime | None = Field(default=None, alias="lastSeen")
    first_touch: Touch | None = Field(default=None, alias="firstTouch")
    last_touch: Touch | None = Field(default=None, alias="lastTouch")


class TimelinePage(Model):
    model_config = ConfigDict(populate_by_name=True)

    items: list[TimelineEntry]
    next_cursor: str | None = Field(default=None, alias="nextCursor")
    marketing: list[ContactMarketing] | None = Field(
        default=None, description="on the first page only: the account's contacts as marketing knows them"
    )


def marketing_of_contacts(account_id: str) -> list[ContactMarketing]:
    index, partition = keys.record_list_partition(CONTACT.kind, account_id=account_id)
    query = store.ListQuery(index, partition, limit=MAX_MARKETING_CONTACTS)
    contacts = store.list_records(CONTACT, query).items
    linked = {contact.profile_id: contact.contact_id for contact in contacts if contact.profile_id}
    profiles = load_profiles(list(linked)) if linked else {}
    return [
        ContactMarketing(
            contact_id=linked[profile_id],
            profile_id=profile_id,
            stage=profile.stage.value if profile.stage else None,
            first_seen=profile.first_seen,
            last_seen=profile.last_seen,
            first_touch=profile.first_touch,
            last_touch=profile.last_touch,
        )
        for profile_id, profile in profiles.items()
        if profile_id in linked
    ]


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/crm/accounts/<record_id>/timeline",
        policy=CRM_WRITE,
        summary="An account's timeline: its records' events, newest first, and its contacts' marketing",
        tag="accounts",
        problems=[400, 404],
    )
    def account_timeline(record_id: RecordIdPath, params: Annotated[ListParams, Query()]) -> TimelinePage:
        api.refuse_unknown_parameters(ListParams)
        ACCOUNTS.get(record_id, api.principal())
        page = store.timeline(record_id, limit=params.limit, cursor=params.cursor)
        marketing = marketing_of_contacts(record_id) if params.cursor is None else None
        return TimelinePage(items=page.items, next_cursor=page.next_cursor, marketing=marketing)

"""Activities (calls, meetings, demos, tasks) and notes: the work of the sales cycle, linked to a contact,
an account and a deal. An activity linked to a deal or contact of an account shows on that account's
timeline (its account is filled in from the deal or the contact when not given)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from crm.api.framework import Resource, referenced, register_resource
from crm.api.models import CrmInput, LongText, Name, RecordId, ShortText, UserId
from crm.records import CrmRecord, RecordType
from crm.resources.accounts import ACCOUNT
from crm.resources.contacts import CONTACT
from crm.resources.deals import DEAL
from leadstream import clock
from leadstream.api import Api, ListParams
from leadstream.auth import CRM_WRITE, Principal
from leadstream.numbers import StorableIntOrNone
from leadstream.profiles import UtcTime


class ActivityType(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    DEMO = "demo"
    TASK = "task"


class ActivityStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class Links(CrmInput):
    """What a piece of work is about; the account is derived from the deal or the contact if not given."""

    contact_id: RecordId | None = Field(default=None, alias="contactId")
    account_id: RecordId | None = Field(default=None, alias="accountId")
    deal_id: RecordId | None = Field(default=None, alias="dealId")


class ActivityFields(Links):
    type: ActivityType
    subject: Name
    due_at: UtcTime | None = Field(
        default=None,
        alias="dueAt",
        description="when it is scheduled or due (default: now, for a logged call)",
    )
    duration_minutes: StorableIntOrNone = Field(default=None, alias="durationMinutes", ge=1, le=24 * 60)
    status: ActivityStatus = ActivityStatus.PLANNED
    outcome: ShortText | None = Field(default=None, description="how it went: connected, left voicemail ...")
    description: LongText | None = None
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="default: the creator")


class Activity(ActivityFields, CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    activity_id: RecordId = Field(alias="activityId")
    completed_at: UtcTime | None = Field(default=None, alias="completedAt")


class ActivityChanges(CrmInput):
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    account_id: RecordId | None = Field(default=None, alias="accountId")
    deal_id: RecordId | None = Field(default=None, alias="dealId")
    type: ActivityType | None = None
    subject: Name | None = None
    due_at: UtcTime | None = Field(default=None, alias="dueAt")
    duration_minutes: StorableIntOrNone = Field(default=None, alias="durationMinutes", ge=1, le=24 * 60)
    status: ActivityStatus | None = None
    outcome: ShortText | None = None
    description: LongText | None = None
    owner_id: UserId | None = Field(default=None, alias="ownerId")


class ActivityQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's activities; `me`")
    account_id: RecordId | None = Field(default=None, alias="accountId")
    deal_id: RecordId | None = Field(default=None, alias="dealId")
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    type: ActivityType | None = None
    status: ActivityStatus | None = None
    due_from: date | None = Field(default=None, alias="dueFrom", description="due on or after")
    due_to: date | None = Field(default=None, alias="dueTo", description="due on or before")


ACTIVITY = RecordType(
    kind="activity",
    plural="activities",
    model=Activity,
    id_field="activity_id",
    title_field="subject",
    sort_field="due_at",
    timeline_fields=("status", "outcome", "due_at"),
)


def linked[R: Links](record: R, before: R | None) -> R:
    """Check the links that changed exist; fill in the account from the deal or the contact."""
    wanted: dict[str, Any] = {}
    for field, kind in (("contact_id", CONTACT), ("account_id", ACCOUNT), ("deal_id", DEAL)):
        value = getattr(record, field)
        if value and (before is None or getattr(before, field) != value):
            wanted[kind.aliases[kind.id_field]] = (kind, value)
    found = referenced(wanted)
    if record.account_id is None:
        source = found.get("dealId") or found.get("contactId")
        if source is not None and source.account_id:
            record = record.model_copy(update={"account_id": source.account_id})
    return record


def prepare_activity(activity: Activity, before: Activity | None, principal: Principal) -> Activity:
    activity = linked(activity, before)
    update: dict[str, Any] = {}
    if activity.due_at is None:
        update["due_at"] = clock.now()
    if activity.status is ActivityStatus.DONE and activity.completed_at is None:
        update["completed_at"] = clock.now()
    elif activity.status is not ActivityStatus.DONE:
        update["completed_at"] = None
    return activity.model_copy(update=update)


ACTIVITIES = Resource(
    record=ACTIVITY,
    create_model=ActivityFields,
    patch_model=ActivityChanges,
    query_model=ActivityQuery,
    read=CRM_WRITE,
    write=CRM_WRITE,
    tag="activities",
    prepare=prepare_activity,
)


# --- notes -------------------------------------------------------------------------------------------------
class NoteFields(Links):
    body: LongText = Field(min_length=1)


class Note(NoteFields, CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    note_id: RecordId = Field(alias="noteId")

    @property
    def title(self) -> str:
        first_line = self.body.strip().splitlines()[0] if self.body.strip() else ""
        return first_line if len(first_line) <= 80 else first_line[:77] + "..."


class NoteChanges(CrmInput):
    body: LongText | None = Field(default=None, min_length=1)
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    account_id: RecordId | None = Field(default=None, alias="accountId")
    deal_id: RecordId | None = Field(default=None, alias="dealId")


class NoteQuery(ListParams):
    account_id: RecordId | None = Field(default=None, alias="accountId")
    deal_id: RecordId | None = Field(default=None, alias="dealId")
    contact_id: RecordId | None = Field(default=None, alias="contactId")
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


NOTE = RecordType(
    kind="note",
    plural="notes",
    model=Note,
    id_field="note_id",
    title_field="title",
    owner_field=None,  # the author is createdBy
    timeline_fields=("body",),
)


def prepare_note(note: Note, before: Note | None, principal: Principal) -> Note:
    return linked(note, before)


NOTES = Resource(
    record=NOTE,
    create_model=NoteFields,
    patch_model=NoteChanges,
    query_model=NoteQuery,
    read=CRM_WRITE,
    write=CRM_WRITE,
    tag="notes",
    prepare=prepare_note,
)


def register(api: Api) -> None:
    register_resource(api, ACTIVITIES)
    register_resource(api, NOTES)

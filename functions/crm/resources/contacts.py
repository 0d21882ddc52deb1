"""Contacts: the people at accounts. An email belongs to one contact; a contact with an email is linked to
the marketing profile of that email, so sales and marketing look at the same person."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, ConfigDict, Field

from crm.api.framework import Resource, referenced, register_resource
from crm.api.models import (
    CrmInput,
    CustomFields,
    CustomFieldsPatch,
    Email,
    LongText,
    Phone,
    RecordId,
    ShortText,
    UserId,
)
from crm.records import CrmRecord, RecordType
from crm.resources.accounts import ACCOUNT
from leadstream import keys
from leadstream.api import Api, ListParams
from leadstream.auth import CRM_PEOPLE_READ, CRM_WRITE, Principal
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item


class ContactFields(CrmInput):
    first_name: ShortText | None = Field(default=None, alias="firstName")
    last_name: ShortText = Field(alias="lastName", min_length=1)
    email: Email | None = Field(default=None, description="unique among contacts (409 names the holder)")
    phone: Phone | None = None
    mobile: Phone | None = None
    title: ShortText | None = None
    account_id: RecordId | None = Field(default=None, alias="accountId")
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="default: the creator")
    description: LongText | None = None
    do_not_call: bool = Field(default=False, alias="doNotCall")
    custom_fields: CustomFields = Field(default_factory=dict, alias="customFields")


class Contact(ContactFields, CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    contact_id: RecordId = Field(alias="contactId")
    profile_id: str | None = Field(
        default=None, alias="profileId", description="the marketing profile of this person (by email)"
    )
    lead_id: str | None = Field(default=None, alias="leadId", description="the lead it was converted from")
    erased_at: AwareDatetime | None = Field(
        default=None, alias="erasedAt", description="when the person's data was erased (privacy erasure)"
    )


class ContactChanges(CrmInput):
    first_name: ShortText | None = Field(default=None, alias="firstName")
    last_name: ShortText | None = Field(default=None, alias="lastName", min_length=1)
    email: Email | None = None
    phone: Phone | None = None
    mobile: Phone | None = None
    title: ShortText | None = None
    account_id: RecordId | None = Field(default=None, alias="accountId")
    owner_id: UserId | None = Field(default=None, alias="ownerId")
    description: LongText | None = None
    do_not_call: bool | None = Field(default=None, alias="doNotCall")
    custom_fields: CustomFieldsPatch | None = Field(default=None, alias="customFields")


class ContactQuery(ListParams):
    owner_id: UserId | None = Field(default=None, alias="ownerId", description="an owner's contacts; `me`")
    account_id: RecordId | None = Field(default=None, alias="accountId", description="an account's contacts")
    email: Email | None = None
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


CONTACT = RecordType(
    kind="contact",
    plural="contacts",
    model=Contact,
    id_field="contact_id",
    title_field="last_name",
    unique_fields=("email",),
)


def prepare(contact: Contact, before: Contact | None, principal: Principal) -> Contact:
    if contact.account_id and (before is None or before.account_id != contact.account_id):
        referenced({"accountId": (ACCOUNT, contact.account_id)})
    if contact.email and (before is None or before.email != contact.email):
        # A new address of a linked person keeps the link (the closed loop re-keys the person to it);
        # an address another person is known by links to that person.
        linked = profile_of_email(contact.email) or (before.profile_id if before else None)
        contact = contact.model_copy(update={"profile_id": linked})
    return contact


def profile_of_email(email: str) -> str | None:
    """The marketing profile known by this email, if scoring has seen it (one GetItem)."""
    identity = get_item(get_settings().main_table, keys.identity_key("email", email.lower()), consistent=True)
    return str(identity["profileId"]) if identity and identity.get("profileId") else None


CONTACTS = Resource(
    record=CONTACT,
    create_model=ContactFields,
    patch_model=ContactChanges,
    query_model=ContactQuery,
    read=CRM_PEOPLE_READ,
    write=CRM_WRITE,
    tag="contacts",
    prepare=prepare,
)


def register(api: Api) -> None:
    register_resource(api, CONTACTS)

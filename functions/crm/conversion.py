"""Converting a lead: it becomes a contact at an account, usually with a deal, in one transaction.

Existing records are reused and never overwritten: a contact named in the request, or the contact that
already has the lead's email; an account named in the request, or the existing contact's account. Only
their empty fields are filled from the lead. A lead that is not accepted yet is accepted first (its person
becomes sales-qualified), so conversion is also the one-step "qualify". Converting a converted lead again
returns what it was converted into, so a retried request is harmless.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crm import lifecycle
from crm.api.framework import RecordIdPath, referenced
from crm.api.models import CrmInput, Name, RecordId, Slug
from crm.commerce.money import Amount, Currency
from crm.lead_record import LEAD
from crm.leads import Lead, LeadStatus
from crm.records import RecordType
from crm.resources.accounts import ACCOUNT, ACCOUNTS, Account, AccountFields, Address
from crm.resources.contacts import CONTACT, CONTACTS, Contact, ContactChanges, ContactFields
from crm.resources.deals import DEAL, DEALS, Deal, DealFields
from crm.resources.leads import lead_for_action
from crm.store import records as store
from leadstream.api import Api, IfMatch
from leadstream.auth import CRM_WRITE, Principal
from leadstream.errors import Conflict
from leadstream.models import Model

CONVERTIBLE = frozenset({LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.ACCEPTED})


class DealDraft(CrmInput):
    """The deal a conversion opens (everything optional: named after the company, standard pipeline)."""

    name: Name | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    close_date: date | None = Field(default=None, alias="closeDate")
    pipeline_id: Slug | None = Field(default=None, alias="pipelineId")
    stage_id: Slug | None = Field(default=None, alias="stageId")


class ConvertLead(CrmInput):
    account_id: RecordId | None = Field(
        default=None, alias="accountId", description="an existing account (default: the contact's, else new)"
    )
    contact_id: RecordId | None = Field(
        default=None, alias="contactId", description="an existing contact (default: the one with the email)"
    )
    create_deal: bool = Field(default=True, alias="createDeal")
    deal: DealDraft | None = None


class Conversion(Model):
    model_config = ConfigDict(populate_by_name=True)

    lead: Lead
    contact: Contact
    account: Account
    deal: Deal | None = None


def convert(lead: Lead, request: ConvertLead, principal: Principal) -> Conversion:
    if lead.status is LeadStatus.CONVERTED:
        return _converted(lead)
    if lead.status not in CONVERTIBLE:
        raise Conflict(f"The lead is {lead.status.value}; only a new, working or accepted lead converts.")
    if lead.status is not LeadStatus.ACCEPTED:
        lead = _accept(lead, principal)
    found = referenced(
        {"accountId": (ACCOUNT, request.account_id), "contactId": (CONTACT, request.contact_id)}
    )
    contact: Contact | None = found.get("contactId") or _contact_with_email(lead.email)
    account: Account | None = found.get("accountId")
    if account is None and contact is not None and contact.account_id:
        account = store.get_record(ACCOUNT, contact.account_id)

    writes: list[store.RecordWrite | None] = []
    account, account_write = _account_for(lead, account, principal)
    writes.append(account_write)
    contact, contact_write = _contact_for(lead, contact, account, principal)
    writes.append(contact_write)
    deal = None
    if request.create_deal:
        deal = _deal_for(lead, request.deal or DealDraft(), account, contact, principal)
        writes.append(store.creation(DEAL, deal, action="created from lead"))
    converted = lead.model_copy(
        update={
            "status": LeadStatus.CONVERTED,
            "contact_id": contact.contact_id,
            "account_id": account.account_id,
            "deal_id": deal.deal_id if deal else None,
        }
    )
    lead_write = store.change(LEAD, lead, converted, principal, action="converted")
    writes.append(lead_write)
    store.commit([write for write in writes if write is not None], principal)
    assert lead_write is not None
    return Conversion(lead=lead_write.after, contact=contact, account=account, deal=deal)


def _accept(lead: Lead, principal: Principal) -> Lead:
    return lifecycle.accept_lead(lead.lead_id, by=principal, expected_version=lead.version)


def _contact_with_email(email: str | None) -> Contact | None:
    if not email:
        return None
    contact_id = store.find_unique(CONTACT, "email", email)
    return store.get_record(CONTACT, contact_id) if contact_id else None


def _account_for(
    lead: Lead, account: Account | None, principal: Principal
) -> tuple[Account, store.RecordWrite | None]:
    if account is None:
        name = _acceptable(AccountFields, {"name": lead.company}).get("name") or _person(lead)
        body = AccountFields(name=name, owner_id=lead.owner_id, address=_address(lead))
        new = ACCOUNTS.new(body, principal, _new_id())
        return new, store.creation(ACCOUNT, new, action="created from lead")
    filled = _filled(account, {"address": _address(lead)})
    return _filling(ACCOUNT, account, filled, principal)


def _contact_for(
    lead: Lead, contact: Contact | None, account: Account, principal: Principal
) -> tuple[Contact, store.RecordWrite | None]:
    from_lead = {
        "first_name": lead.first_name,
        "email": lead.email,
        "phone": lead.phone,
        "title": lead.title,
        "account_id": account.account_id,
        "profile_id": lead.profile_id,
        "lead_id": lead.lead_id,
    }
    from_lead = _acceptable(ContactChanges, from_lead)
    if contact is None:
        last_name = _acceptable(ContactChanges, {"last_name": lead.last_name}).get("last_name")
        body = ContactFields(last_name=last_name or _person(lead), owner_id=lead.owner_id)
        new = CONTACTS.new(body, principal, _new_id())  # its account may be new too: linked below
        new = new.model_copy(update=from_lead)
        return new, store.creation(CONTACT, new, action="created from lead")
    return _filling(CONTACT, contact, _filled(contact, from_lead), principal)


def _deal_for(lead: Lead, draft: DealDraft, account: Account, contact: Contact, principal: Principal) -> Deal:
    fields: dict[str, Any] = draft.model_dump(exclude_none=True)
    fields.setdefault("name", f"{account.name}: new business")
    body = DealFields(**fields, owner_id=lead.owner_id)
    deal: Deal = DEALS.new(body, principal, _new_id())
    return deal.model_copy(
        update={"account_id": account.account_id, "contact_id": contact.contact_id, "lead_id": lead.lead_id}
    )


def _acceptable(model: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """The values (by field name) that `model` accepts as they are: what scoring captured from a form may
    not fit the CRM's fields (an email it cannot read, a 300-character title); those stay on the lead."""
    fields = model.model_fields
    accepted = {}
    for name, value in values.items():
        if value is None:
            continue
        if name not in fields:  # ids the model does not take as input (profileId, leadId): ours, kept
            accepted[name] = value
            continue
        try:
            checked = model.model_validate({fields[name].alias or name: value})
        except ValidationError:
            continue
        accepted[name] = getattr(checked, name)
    return accepted


def _filled[R: BaseModel](record: R, values: dict[str, Any]) -> R:
    """`record` with each of `values` set where it has nothing yet: never overwrite what sales typed."""
    empty = {
        name: value for name, value in values.items() if value is not None and getattr(record, name) is None
    }
    return record.model_copy(update=empty)


def _filling[R: BaseModel](
    kind: Any, before: R, after: R, principal: Principal
) -> tuple[R, store.RecordWrite | None]:
    write = store.change(kind, before, after, principal, action="filled from lead")
    return (write.after, write) if write else (before, None)


def _converted(lead: Lead) -> Conversion:
    """What a converted lead became, as it is now."""
    wanted: list[tuple[RecordType[Any], str | None]] = [
        (CONTACT, lead.contact_id),
        (ACCOUNT, lead.account_id),
        (DEAL, lead.deal_id),
    ]
    found = store.get_many([(kind, record_id) for kind, record_id in wanted if record_id])
    contact, account = (
        found.get(("contact", lead.contact_id or "")),
        found.get(("account", lead.account_id or "")),
    )
    if contact is None or account is None:
        raise Conflict("The lead was converted, but its contact or account has since been deleted.")
    return Conversion(
        lead=lead, contact=contact, account=account, deal=found.get(("deal", lead.deal_id or ""))
    )


def _address(lead: Lead) -> Address | None:
    country = _acceptable(Address, {"country": lead.country}).get("country")
    return Address(country=country) if country else None


def _person(lead: Lead) -> str:
    names = " ".join(part for part in (lead.first_name, lead.last_name) if part)
    return (names or (lead.email or lead.lead_id).split("@")[0])[:200]


def _new_id() -> str:
    return str(uuid.uuid4())


def register(api: Api) -> None:
    @api.route(
        "POST",
        "/crm/leads/<record_id>/convert",
        policy=CRM_WRITE,
        summary="Convert a lead into a contact, an account and a deal (accepting it first if needed)",
        tag="leads",
        problems=[404, 409, 412],
    )
    def convert_lead(record_id: RecordIdPath, body: ConvertLead, if_match: IfMatch = None) -> Conversion:
        principal = api.principal()
        return convert(lead_for_action(record_id, if_match, principal), body, principal)

"""The business event catalog: every change the rest of a company may follow, as versioned events.

Each event is one EventBridge event on the stack's bus: source `leadstream.catalog` (`lead.qualified`
keeps the source `leadstream.scoring` it always had), detail-type the event's `type`, and the detail an
envelope `{id, type, version, occurredAt, data}`. The `data` of each type is a pydantic model below; its
JSON Schema (`schema_of`, `catalog_schemas`) is what docs/events.md shows and what tests check every
published event against.

Events are derived from the main table's stream (`derive`): the old and new image of a changed item say
what happened. The id is derived from the item's key and version (or from what happened once to it), so a
redelivered stream record yields the same event with the same id: publication is de-duplicated by id
(`integrations.changes`), and receivers may de-duplicate by it too.

Personal data: events carry ids, the names of the fields that changed, and the values of the few fields
that are not about a person (stage, status, amounts, dates, owners). Names, emails, phone numbers and
free text never travel in a catalog event: a receiver reads them through the API with its own
credentials, so an erasure is not undone by copies in other systems' logs (docs/events.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from leadstream.models import Model

SOURCE = "leadstream.catalog"
SCORING_SOURCE = "leadstream.scoring"  # where `lead.qualified` comes from (scoring.handoff)
VERSION = 1


# --- the data of each event type ------------------------------------------------------------------
class FieldChange(Model):
    field: str
    before: str | int | float | bool | None = None
    after: str | int | float | bool | None = None


class ProfileCreated(Model):
    profile_id: str = Field(alias="profileId")
    identity_kinds: list[str] = Field(
        alias="identityKinds", description="kinds of the identities it starts with (anon, user, email...)"
    )


class ProfileMerged(Model):
    profile_id: str = Field(alias="profileId", description="the surviving profile")
    absorbed_profile_id: str = Field(alias="absorbedProfileId")


class ProfileStageChanged(Model):
    profile_id: str = Field(alias="profileId")
    stage_before: str | None = Field(alias="stageBefore")
    stage: str | None


class LeadQualified(Model):
    """As published by the handoff to sales since before the catalog (scoring.handoff.event_detail): flat,
    no envelope; `leadId` identifies it. The one catalog event that carries contact details, because the
    sales systems that follow it exist to call the person."""

    lead_id: str = Field(alias="leadId")
    profile_id: str = Field(alias="profileId")
    owner_id: str | None = Field(alias="ownerId")
    email: str | None
    first_name: str | None = Field(alias="firstName")
    last_name: str | None = Field(alias="lastName")
    company: str | None
    qualification: dict[str, Any] | None
    stage: str | None
    tags: list[str]


class LeadStatusChanged(Model):
    lead_id: str = Field(alias="leadId")
    profile_id: str | None = Field(default=None, alias="profileId")
    owner_id: str | None = Field(default=None, alias="ownerId")
    status_before: str | None = Field(alias="statusBefore")
    status: str


class RecordChanged(Model):
    """A CRM record created or updated: its id, version and which fields changed (values: only those
    that are not personal data)."""

    record_id: str = Field(alias="recordId")
    kind: Literal["contact", "account", "deal"]
    version: int
    account_id: str | None = Field(default=None, alias="accountId")
    owner_id: str | None = Field(default=None, alias="ownerId")
    changed_fields: list[str] = Field(alias="changedFields")
    changes: list[FieldChange] = Field(description="before and after of the changed non-personal fields")


class DealStageChanged(Model):
    deal_id: str = Field(alias="dealId")
    pipeline_id: str | None = Field(default=None, alias="pipelineId")
    stage_before: str | None = Field(alias="stageBefore")
    stage: str | None
    outcome: str | None
    amount: str | None = Field(default=None, description="decimal, as text")
    currency: str | None = None
    account_id: str | None = Field(default=None, alias="accountId")
    owner_id: str | None = Field(default=None, alias="ownerId")


class DealClosed(Model):
    deal_id: str = Field(alias="dealId")
    outcome: Literal["won", "lost"]
    amount: str | None = Field(default=None, description="decimal, as text")
    currency: str | None = None
    account_id: str | None = Field(default=None, alias="accountId")
    owner_id: str | None = Field(default=None, alias="ownerId")
    renewal_of: str | None = Field(default=None, alias="renewalOf", description="the contract it renews")


class QuoteAccepted(Model):
    quote_id: str = Field(alias="quoteId")
    deal_id: str | None = Field(default=None, alias="dealId")
    account_id: str | None = Field(default=None, alias="accountId")
    total: str | None = Field(default=None, description="decimal, as text")
    currency: str | None = None


class OrderPlaced(Model):
    order_id: str = Field(alias="orderId")
    quote_id: str | None = Field(default=None, alias="quoteId")
    account_id: str | None = Field(default=None, alias="accountId")
    owner_id: str | None = Field(default=None, alias="ownerId")
    total: str | None = Field(default=None, description="decimal, as text")
    currency: str | None = None


class ContractStarted(Model):
    contract_id: str = Field(alias="contractId")
    order_id: str | None = Field(default=None, alias="orderId")
    account_id: str | None = Field(default=None, alias="accountId")
    start_date: str | None = Field(default=None, alias="startDate")
    end_date: str | None = Field(default=None, alias="endDate")
    value: str | None = Field(default=None, description="decimal, as text")
    currency: str | None = None


class ContractEnded(Model):
    contract_id: str = Field(alias="contractId")
    status: Literal["terminated", "expired"]
    account_id: str | None = Field(default=None, alias="accountId")
    end_date: str | None = Field(default=None, alias="endDate")


class ContractRenewed(Model):
    contract_id: str = Field(alias="contractId")
    deal_id: str = Field(alias="dealId", description="the renewal deal that was won")
    amount: str | None = Field(default=None, description="decimal, as text")
    currency: str | None = None


class FormSubmitted(Model):
    form_id: str = Field(alias="formId")
    message_id: str = Field(alias="messageId", description="the tracking event of the submission")
    source_id: str = Field(alias="sourceId")
    anonymous_id: str | None = Field(default=None, alias="anonymousId")
    hand_raiser: bool = Field(alias="handRaiser")
    field_names: list[str] = Field(alias="fieldNames", description="which fields were filled (not values)")


class EmailFeedback(Model):
    message_id: str = Field(alias="messageId", description="the email (send record) it is about")
    profile_id: str | None = Field(default=None, alias="profileId")
    campaign_id: str | None = Field(default=None, alias="campaignId")
    journey_id: str | None = Field(default=None, alias="journeyId")


# type -> (data model, description)
EVENT_TYPES: dict[str, tuple[type[Model], str]] = {
    "profile.created": (ProfileCreated, "A person was seen for the first time (a new profile)."),
    "profile.merged": (ProfileMerged, "An anonymous profile was absorbed into a known one."),
    "profile.stage_changed": (ProfileStageChanged, "A person's lifecycle stage changed."),
    "lead.qualified": (LeadQualified, "A person was handed to sales as a lead (MQL)."),
    "lead.accepted": (LeadStatusChanged, "Sales accepted a lead (SQL)."),
    "lead.rejected": (LeadStatusChanged, "Sales sent a lead back to nurture."),
    "lead.disqualified": (LeadStatusChanged, "Sales found a lead is not a buyer."),
    "contact.created": (RecordChanged, "A CRM contact was created."),
    "contact.updated": (RecordChanged, "A CRM contact changed."),
    "account.created": (RecordChanged, "A CRM account was created."),
    "account.updated": (RecordChanged, "A CRM account changed."),
    "deal.created": (RecordChanged, "A deal was created."),
    "deal.updated": (RecordChanged, "A deal changed."),
    "deal.stage_changed": (DealStageChanged, "A deal moved to another stage."),
    "deal.won": (DealClosed, "A deal was won."),
    "deal.lost": (DealClosed, "A deal was lost."),
    "quote.accepted": (QuoteAccepted, "A customer accepted a quote."),
    "order.placed": (OrderPlaced, "An order was placed."),
    "contract.started": (ContractStarted, "A contract was created from an order."),
    "contract.ended": (ContractEnded, "A contract was terminated or expired."),
    "contract.renewed": (ContractRenewed, "A contract's renewal deal was won."),
    "form.submitted": (FormSubmitted, "A visitor submitted a form."),
    "email.bounced": (EmailFeedback, "A marketing email bounced."),
    "email.complained": (EmailFeedback, "A recipient marked a marketing email as spam."),
    "email.unsubscribed": (EmailFeedback, "A recipient unsubscribed through a marketing email."),
}


class CatalogEvent(Model):
    """The detail of a catalog event on the bus (every type but `lead.qualified`)."""

    id: str = Field(pattern=r"^evt_[0-9a-f]{32}$", description="stable: the same change always has this id")
    type: str
    version: int = VERSION
    occurred_at: str = Field(alias="occurredAt", description="ISO-8601 UTC")
    data: dict[str, Any]

    def detail(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def event_id(*parts: object) -> str:
    """A stable id from what identifies the change (item key, version, type)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"evt_{digest[:32]}"


def make(type_: str, id_parts: tuple[object, ...], occurred_at: str, data: Mapping[str, Any]) -> CatalogEvent:
    model, _ = EVENT_TYPES[type_]
    checked = model.model_validate(dict(data)).model_dump(by_alias=True, mode="json")
    return CatalogEvent(id=event_id(type_, *id_parts), type=type_, occurredAt=occurred_at, data=checked)


# --- JSON Schemas ---------------------------------------------------------------------------------
def schema_of(type_: str) -> dict[str, Any]:
    """The JSON Schema of one event type's bus detail (envelope and data; lead.qualified: its flat detail)."""
    model, description = EVENT_TYPES[type_]
    data_schema = model.model_json_schema(by_alias=True, mode="serialization")
    definitions = data_schema.pop("$defs", {})
    if type_ == "lead.qualified":
        schema = {**data_schema, "description": description}
    else:
        schema = {
            "title": type_,
            "description": description,
            "type": "object",
            "properties": {
                "id": {"type": "string", "pattern": r"^evt_[0-9a-f]{32}$"},
                "type": {"const": type_},
                "version": {"const": VERSION},
                "occurredAt": {"type": "string", "format": "date-time"},
                "data": data_schema,
            },
            "required": ["id", "type", "version", "occurredAt", "data"],
            "additionalProperties": False,
        }
    if definitions:
        schema["$defs"] = definitions
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"leadstream:{type_}:v1",
        **schema,
    }


def catalog_schemas() -> dict[str, dict[str, Any]]:
    return {type_: schema_of(type_) for type_ in EVENT_TYPES}


def source_of(type_: str) -> str:
    return SCORING_SOURCE if type_ == "lead.qualified" else SOURCE


# --- deriving events from main-table changes --------------------------------------------------------
# Values that may travel in events: not about a person.
PUBLIC_FIELDS = frozenset({
    "stageId", "pipelineId", "outcome", "amount", "currency", "closeDate", "probability", "forecastCategory",
    "ownerId", "accountId", "contactId", "status", "type", "industry", "lifecycle", "parentId", "source",
    "renewalOf", "dealId", "quoteId", "orderId",
})  # fmt: skip
# Bookkeeping, not a change anyone follows.
IGNORED_FIELDS = frozenset({
    "pk", "sk", "version", "updatedAt", "updatedBy", "updatedByName", "createdAt", "createdBy",
    "createdByName", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "stageHistory",
})  # fmt: skip
RECORD_KINDS = ("CONTACT", "ACCOUNT", "DEAL", "LEAD", "QUOTE", "ORDER", "CONTRACT")
LEAD_EVENTS = {"accepted": "lead.accepted", "rejected": "lead.rejected", "disqualified": "lead.disqualified"}
EMAIL_EVENTS = {
    "bouncedAt": "email.bounced",
    "complainedAt": "email.complained",
    "unsubscribedAt": "email.unsubscribed",
}


def derive(
    event_name: str,
    keys: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    created_at: datetime,
) -> list[CatalogEvent]:
    """The catalog events one main-table change means (none for most items). `created_at` is the stream
    record's approximate creation time, the same on every delivery of the record."""
    if event_name == "REMOVE" or new is None:
        return []
    pk, sk = str(keys.get("pk", "")), str(keys.get("sk", ""))
    when = created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    tag, _, item_id = pk.partition("#")
    if sk == "PROFILE" and tag == "PROFILE":
        return _profile_events(item_id, old, new, when)
    if tag == "PROFILE" and sk.startswith("MERGE#"):
        absorbed = sk.removeprefix("MERGE#")
        data = {"profileId": item_id, "absorbedProfileId": absorbed}
        return [make("profile.merged", (pk, sk), when, data)]
    if sk == "SEND" and tag == "SEND":
        return _email_events(item_id, old, new, when)
    if sk == tag and tag in RECORD_KINDS:
        return _record_events(tag.lower(), item_id, old, new, when)
    return []


def _profile_events(
    profile_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], when: str
) -> list[CatalogEvent]:
    if new.get("mergedInto"):
        return []
    found = []
    version = _int(new.get("version"))
    if old is None:
        kinds = sorted({str(ref).split(":", 1)[0] for ref in new.get("identities", []) or []})
        found.append(
            make("profile.created", (profile_id,), when, {"profileId": profile_id, "identityKinds": kinds})
        )
    before, after = (old or {}).get("stage"), new.get("stage")
    if before != after:
        data = {"profileId": profile_id, "stageBefore": before, "stage": after}
        found.append(make("profile.stage_changed", (profile_id, version), when, data))
    return found


def _email_events(
    message_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], when: str
) -> list[CatalogEvent]:
    found = []
    for attribute, type_ in EMAIL_EVENTS.items():
        if new.get(attribute) and not (old or {}).get(attribute):
            data = {
                "messageId": message_id,
                "profileId": new.get("profileId"),
                "campaignId": new.get("campaignId"),
                "journeyId": new.get("journeyId"),
            }
            found.append(make(type_, (message_id,), when, data))
    return found


def _record_events(
    kind: str, record_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], when: str
) -> list[CatalogEvent]:
    version = _int(new.get("version"))
    if old is not None and _int(old.get("version")) == version:
        return []  # not a new version: nothing a person changed
    key = (kind, record_id, version)
    found: list[CatalogEvent] = []
    changed = _changed_fields(old, new)
    if kind in ("contact", "account", "deal"):
        data = {
            "recordId": record_id,
            "kind": kind,
            "version": version,
            "accountId": _text(new.get("accountId")),
            "ownerId": _text(new.get("ownerId")),
            "changedFields": changed,
            "changes": [
                {"field": name, "before": _value((old or {}).get(name)), "after": _value(new.get(name))}
                for name in changed
                if name in PUBLIC_FIELDS
            ],
        }
        found.append(make(f"{kind}.{'created' if old is None else 'updated'}", key, when, data))
    before = old or {}
    if kind == "deal":
        found.extend(_deal_events(record_id, before, new, key, when))
    elif kind == "lead":
        status, status_before = new.get("status"), before.get("status")
        if status != status_before and status in LEAD_EVENTS:
            data = {
                "leadId": record_id,
                "profileId": _text(new.get("profileId")),
                "ownerId": _text(new.get("ownerId")),
                "statusBefore": status_before,
                "status": status,
            }
            found.append(make(LEAD_EVENTS[str(status)], key, when, data))
    elif kind == "quote":
        if new.get("status") == "accepted" and before.get("status") != "accepted":
            data = {
                "quoteId": record_id,
                "dealId": _text(new.get("dealId")),
                "accountId": _text(new.get("accountId")),
                "total": _money((new.get("totals") or {}).get("total")),
                "currency": _text(new.get("currency")),
            }
            found.append(make("quote.accepted", key, when, data))
    elif kind == "order" and old is None:
        data = {
            "orderId": record_id,
            "quoteId": _text(new.get("quoteId")),
            "accountId": _text(new.get("accountId")),
            "ownerId": _text(new.get("ownerId")),
            "total": _money((new.get("totals") or {}).get("total")),
            "currency": _text(new.get("currency")),
        }
        found.append(make("order.placed", key, when, data))
    elif kind == "contract":
        found.extend(_contract_events(record_id, old, new, key, when))
    return found


def _deal_events(
    deal_id: str, before: Mapping[str, Any], new: Mapping[str, Any], key: tuple[object, ...], when: str
) -> list[CatalogEvent]:
    found = []
    money = {"amount": _money(new.get("amount")), "currency": _text(new.get("currency"))}
    owners = {"accountId": _text(new.get("accountId")), "ownerId": _text(new.get("ownerId"))}
    if before and (before.get("stageId"), before.get("pipelineId")) != (
        new.get("stageId"),
        new.get("pipelineId"),
    ):
        data = {
            "dealId": deal_id,
            "pipelineId": _text(new.get("pipelineId")),
            "stageBefore": _text(before.get("stageId")),
            "stage": _text(new.get("stageId")),
            "outcome": _text(new.get("outcome")),
            **money,
            **owners,
        }
        found.append(make("deal.stage_changed", key, when, data))
    outcome = new.get("outcome")
    if outcome in ("won", "lost") and before.get("outcome") != outcome:
        custom = new.get("customFields") or {}
        renewal_of = _text(custom.get("renewalOf") if isinstance(custom, Mapping) else None)
        data = {"dealId": deal_id, "outcome": outcome, "renewalOf": renewal_of, **money, **owners}
        found.append(make(f"deal.{outcome}", key, when, data))
        if outcome == "won" and renewal_of:
            renewed = {"contractId": renewal_of, "dealId": deal_id, **money}
            found.append(make("contract.renewed", key, when, renewed))
    return found


def _contract_events(
    contract_id: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    key: tuple[object, ...],
    when: str,
) -> list[CatalogEvent]:
    if old is None:
        data = {
            "contractId": contract_id,
            "orderId": _text(new.get("orderId")),
            "accountId": _text(new.get("accountId")),
            "startDate": _text(new.get("startDate")),
            "endDate": _text(new.get("endDate")),
            "value": _money(new.get("value")),
            "currency": _text(new.get("currency")),
        }
        return [make("contract.started", key, when, data)]
    status = new.get("status")
    if status in ("terminated", "expired") and old.get("status") != status:
        data = {
            "contractId": contract_id,
            "status": status,
            "accountId": _text(new.get("accountId")),
            "endDate": _text(new.get("endDate")),
        }
        return [make("contract.ended", key, when, data)]
    return []


def form_submitted(event: Mapping[str, Any]) -> CatalogEvent | None:
    """The `form.submitted` event of a stored tracking event (a dict of `TrackedEvent.to_json()`), if it
    is a form submission; its id derives from the event's (source, messageId), so it is stable."""
    properties = event.get("properties") or {}
    if event.get("event") != "Form Submitted" or not isinstance(properties, Mapping):
        return None
    form_id = properties.get("formId")
    if not isinstance(form_id, str) or not form_id:
        return None
    fields = properties.get("fields") or {}
    data = {
        "formId": form_id,
        "messageId": str(event.get("messageId")),
        "sourceId": str(event.get("sourceId")),
        "anonymousId": _text(event.get("anonymousId")),
        "handRaiser": bool(properties.get("handRaiser")),
        "fieldNames": sorted(str(name) for name in fields) if isinstance(fields, Mapping) else [],
    }
    when = str(event.get("receivedAt") or event.get("timestamp"))
    return make("form.submitted", (event.get("sourceId"), event.get("messageId")), when, data)


def _changed_fields(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    names = set(new) | set(old or {})
    before = old or {}
    return sorted(
        name
        for name in names - IGNORED_FIELDS
        if before.get(name) != new.get(name) and not name.startswith("_")
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _money(value: Any) -> str | None:
    if value is None:
        return None
    return str(value) if isinstance(value, (Decimal, int, float, str)) else None


def _value(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, (int, float)):
        return value
    return str(value)

"""docs/events.md, written from the catalog itself: every event type with an example and its JSON Schema.

    python -m integrations.events_doc docs/events.md

A test fails when the page and the code differ, so the page is never out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from integrations.catalog import EVENT_TYPES, SCORING_SOURCE, SOURCE, make, schema_of, source_of

WHEN = "2026-11-23T12:00:00Z"
_DEAL = {"amount": "12500.00", "currency": "EUR", "accountId": "acc-1", "ownerId": "user-7"}
_EMAIL = {"messageId": "msg-1", "profileId": "prof-1", "campaignId": "cmp-1", "journeyId": None}
_STATUS = {"leadId": "lead-1", "profileId": "prof-1", "ownerId": "user-7"}
EXAMPLES: dict[str, dict[str, Any]] = {
    "profile.created": {"profileId": "prof-1", "identityKinds": ["anon"]},
    "profile.merged": {"profileId": "prof-1", "absorbedProfileId": "prof-2"},
    "profile.stage_changed": {"profileId": "prof-1", "stageBefore": "lead", "stage": "mql"},
    "lead.qualified": {
        "leadId": "lead-1",
        "profileId": "prof-1",
        "ownerId": "user-7",
        "email": "grace@example.com",
        "firstName": "Grace",
        "lastName": "Hopper",
        "company": "Compilers Inc",
        "qualification": {"reason": "hand-raiser", "formId": "demo-request"},
        "stage": "mql",
        "tags": ["pricing"],
    },
    "lead.accepted": {**_STATUS, "statusBefore": "new", "status": "accepted"},
    "lead.rejected": {**_STATUS, "statusBefore": "working", "status": "rejected"},
    "lead.disqualified": {**_STATUS, "statusBefore": "new", "status": "disqualified"},
    "contact.created": {
        "recordId": "con-1",
        "kind": "contact",
        "version": 1,
        "accountId": "acc-1",
        "ownerId": "user-7",
        "changedFields": ["accountId", "contactId", "email", "lastName", "ownerId"],
        "changes": [{"field": "accountId", "before": None, "after": "acc-1"}],
    },
    "contact.updated": {
        "recordId": "con-1",
        "kind": "contact",
        "version": 2,
        "accountId": "acc-1",
        "ownerId": "user-7",
        "changedFields": ["title"],
        "changes": [],
    },
    "account.created": {
        "recordId": "acc-1",
        "kind": "account",
        "version": 1,
        "accountId": None,
        "ownerId": "user-7",
        "changedFields": ["accountId", "name", "ownerId"],
        "changes": [],
    },
    "account.updated": {
        "recordId": "acc-1",
        "kind": "account",
        "version": 2,
        "accountId": None,
        "ownerId": "user-7",
        "changedFields": ["industry"],
        "changes": [{"field": "industry", "before": None, "after": "Software"}],
    },
    "deal.created": {
        "recordId": "deal-1",
        "kind": "deal",
        "version": 1,
        "accountId": "acc-1",
        "ownerId": "user-7",
        "changedFields": ["amount", "currency", "name", "stageId"],
        "changes": [{"field": "amount", "before": None, "after": "12500.00"}],
    },
    "deal.updated": {
        "recordId": "deal-1",
        "kind": "deal",
        "version": 3,
        "accountId": "acc-1",
        "ownerId": "user-7",
        "changedFields": ["closeDate"],
        "changes": [{"field": "closeDate", "before": None, "after": "2026-12-15"}],
    },
    "deal.stage_changed": {
        "dealId": "deal-1",
        "pipelineId": "standard",
        "stageBefore": "qualification",
        "stage": "proposal",
        "outcome": "open",
        **_DEAL,
    },
    "deal.won": {"dealId": "deal-1", "outcome": "won", "renewalOf": None, **_DEAL},
    "deal.lost": {"dealId": "deal-2", "outcome": "lost", "renewalOf": None, **_DEAL},
    "quote.accepted": {
        "quoteId": "quo-1",
        "dealId": "deal-1",
        "accountId": "acc-1",
        "total": "64.22",
        "currency": "EUR",
    },
    "order.placed": {
        "orderId": "ord-1",
        "quoteId": "quo-1",
        "accountId": "acc-1",
        "ownerId": "user-7",
        "total": "64.22",
        "currency": "EUR",
    },
    "contract.started": {
        "contractId": "ctr-1",
        "orderId": "ord-1",
        "accountId": "acc-1",
        "startDate": "2026-12-01",
        "endDate": "2027-11-30",
        "value": "64.22",
        "currency": "EUR",
    },
    "contract.ended": {
        "contractId": "ctr-1",
        "status": "terminated",
        "accountId": "acc-1",
        "endDate": "2027-11-30",
    },
    "contract.renewed": {"contractId": "ctr-1", "dealId": "deal-9", "amount": "64.22", "currency": "EUR"},
    "form.submitted": {
        "formId": "demo-request",
        "messageId": "form-demo-request-3f2a",
        "sourceId": "src-1",
        "anonymousId": "anon-1",
        "handRaiser": True,
        "fieldNames": ["company", "email", "name"],
    },
    "email.bounced": _EMAIL,
    "email.complained": _EMAIL,
    "email.unsubscribed": _EMAIL,
}


def example(type_: str) -> dict[str, Any]:
    """The bus detail of an example event of this type (checked against its model on the way)."""
    event = make(type_, ("example",), WHEN, EXAMPLES[type_])
    return dict(event.data) if type_ == "lead.qualified" else event.detail()


INTRO = f"""# Business events (the event catalog)

Every business change is published once on the stack's EventBridge bus (`LeadEventBus`, output
`LeadEventBusName`) as a versioned event, and can be followed by webhooks (docs/integrations.md). This
page is written from the code (`python -m integrations.events_doc docs/events.md`; a test fails when they
differ): `functions/integrations/catalog.py` holds each event's pydantic model, from which the JSON
Schemas below are generated, and a test checks every event the stack publishes against them.

## The envelope

An EventBridge event with source `{SOURCE}`, detail-type the event's type, and a detail:

| field | what |
| --- | --- |
| `id` | `evt_` + 32 hex digits derived from what changed (see below); also the webhook's `webhook-id` |
| `type` | the event type below |
| `version` | `1`; a change that is not backward compatible gets a new version (and a new schema) |
| `occurredAt` | when the change was stored (ISO-8601 UTC) |
| `data` | the type's fields below |

The id comes from the changed item's key and version (or the send and the kind of feedback, or the
tracking event's source and message id): the same change always has the same id, so a redelivered stream
record publishes nothing new, and receivers may de-duplicate by it.

`lead.qualified` is the exception: it was published by the handoff to sales (source
`{SCORING_SOURCE}`) before the catalog existed and keeps its flat detail (no envelope; `leadId`
identifies it); webhooks wrap it in the envelope like the others, with an id derived from `leadId`.

## Where events come from, once each

The catalog's part of `MainChangesFunction` (`handlers/main_changes.py`) reads the main table's
stream (new and old images) and derives events from profiles, merge records, CRM records and send
records; `form.submitted` comes from the events table's stream, in the scoring function after a batch is
scored. Before publishing, it reads the marks `CATALOG#<id>` of the batch's ids (one `BatchGetItem` per
100) and leaves out those already published; after PutEvents (10 per call) it writes the marks
(`BatchWriteItem`, 25 per call, kept a week by TTL). A record whose event the bus refused is reported as a
batch item failure and retried; what already went out is then skipped. The one window: the function dies
after PutEvents and before the marks; the retry publishes the same event again, with the same id.

| type | derived from |
| --- | --- |
| `profile.created` | a profile item inserted (anonymous visitors included) |
| `profile.merged` | a merge record `PROFILE#<survivor>` / `MERGE#<absorbed>` inserted |
| `profile.stage_changed` | a profile whose `stage` differs between the old and new image |
| `lead.accepted`, `lead.rejected`, `lead.disqualified` | a lead whose `status` changed to that status |
| `contact.*`, `account.*`, `deal.created` / `.updated` | the record's first version / every later one |
| `deal.stage_changed` | a deal whose stage or pipeline changed |
| `deal.won`, `deal.lost` | a deal whose `outcome` became won or lost |
| `contract.renewed` | a deal with `customFields.renewalOf` (the renewal deal of a contract) won |
| `quote.accepted` | a quote whose `status` became accepted |
| `order.placed` | an order item inserted |
| `contract.started`, `contract.ended` | a contract inserted / its status became terminated or expired |
| `form.submitted` | a stored "Form Submitted" tracking event |
| `email.bounced`, `.complained`, `.unsubscribed` | a send record's `bouncedAt`, `complainedAt`, ... set |

## Personal data

Catalog events carry ids, the names of the fields that changed, and the values only of fields that are not
about a person: stages, statuses, outcomes, amounts and currencies, dates, owner and account ids. Names,
email addresses, phone numbers, addresses and free text never travel in them (a contact's `changes` lists
no value for `email` or `title`; `form.submitted` names the fields filled, not what was typed). A receiver
that needs them reads the record through the API with its own credentials. Why: an event copied into
another company system's logs cannot be erased from there when the person asks Leadstream to forget
them; ids can be, by the receiver, when it is told. The one exception is `lead.qualified`, which carries
the lead's contact details because the systems following it exist to call the person; subscribe to it
only from systems that may hold them. External ids (Salesforce, HubSpot) are on the profile, not in
events: a receiver matching records reads them from the 360° view.

## The events
"""


def render() -> str:
    parts = [INTRO]
    for type_, (_, description) in EVENT_TYPES.items():
        parts.append(
            f"\n### `{type_}`\n\n{description} Source `{source_of(type_)}`.\n\nExample detail:\n\n```json\n"
            f"{json.dumps(example(type_), indent=2)}\n```\n\nJSON Schema:\n\n```json\n"
            f"{json.dumps(schema_of(type_), indent=2)}\n```\n"
        )
    return "".join(parts)


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(render())

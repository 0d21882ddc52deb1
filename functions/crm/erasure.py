"""Erasure of a person's data in the CRM (docs/customer-data.md, Erasure): their contact and their leads
become anonymous records, their history entries lose the values of personal fields, their account
timeline entries lose the text that named them, and the files attached to the records they are the
contact of are deleted (every version).

What stays: the records themselves with their ids, owners, accounts, statuses and dates (deals, quotes and
orders keep their amounts; the pipeline and the forecast do not change), and who made each change.

Every function here is idempotent: erasing an erased record changes nothing, so a redelivered erasure step
runs them again safely. Writes are conditioned on the version read; a lost race reads again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from crm.commerce.settings import CommerceSettings
from crm.records import SystemActor
from leadstream import clock, keys
from leadstream.aws import dynamodb, s3
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings, load
from leadstream.store.dynamo import deserialize, get_item, serialize

# Who made the erasure's history entries.
ERASURE = SystemActor(user_id="privacy-erasure", username="privacy erasure")
ERASED_NAME = "(erased)"

# Fields of a person's records that hold personal data; everything else (ids, owner, account, status,
# dates, scores, amounts) is kept. `customFields` may hold anything, so it goes whole.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": (
        "firstName", "lastName", "email", "phone", "mobile", "title", "description", "customFields",
    ),
    "lead": ("firstName", "lastName", "email", "phone", "title", "company", "country", "statusReason"),
}  # fmt: skip
# The required name a record keeps once erased (a contact must have a last name).
REQUIRED_NAME = {"contact": "lastName"}
# Records a contact is named on whose attached files are the person's (a ticket's screenshots, a quote's
# signed copy): deleted with every version. The records stay (their amounts count).
ATTACHMENT_PARENTS = ("ticket", "quote", "order")
MAX_ATTEMPTS = 5


def contacts_by_email(emails: Iterable[str]) -> list[str]:
    """The contacts holding these addresses (their unique claims; one GetItem per address)."""
    found = []
    for email in emails:
        claim = get_item(
            _table(), keys.unique_key("contact", "email", email.strip().lower()), consistent=True
        )
        if claim and isinstance(claim.get("recordId"), str):
            found.append(claim["recordId"])
    return found


def leads_by_email(emails: Sequence[str]) -> list[str]:
    """The leads sales can see that carry one of these addresses (the sales list, filtered by address;
    a worker's read). Leads hidden from sales are found through the person's handoffs and contacts."""
    wanted = {email.strip().lower() for email in emails}
    if not wanted:
        return []
    found = []
    client = dynamodb()
    start: dict[str, Any] | None = None
    while True:
        request: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": "GSI1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "LEADS#SALES"}},
            "ProjectionExpression": "leadId, email",
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = client.query(**request)
        for item in (deserialize(raw) for raw in response.get("Items", [])):
            if isinstance(item.get("email"), str) and item["email"].strip().lower() in wanted:
                found.append(str(item["leadId"]))
        start = response.get("LastEvaluatedKey")
        if not start:
            return found


def person_of_records(contact_ids: Sequence[str], lead_ids: Sequence[str]) -> dict[str, Any]:
    """What the CRM knows that identifies the person: their addresses, names and phone numbers (for the
    erasure's searches of free text elsewhere), and the leads their contacts were converted from."""
    emails: set[str] = set()
    texts: set[str] = set()
    leads = set(lead_ids)
    for kind, record_id in [("contact", c) for c in contact_ids] + [("lead", lead) for lead in lead_ids]:
        item = get_item(_table(), keys.record_key(kind, record_id), consistent=True)
        if not item:
            continue
        if isinstance(item.get("email"), str):
            emails.add(item["email"].strip().lower())
        for name in ("phone", "mobile"):
            if isinstance(item.get(name), str):
                texts.add(item[name])
        full = " ".join(str(item[n]) for n in ("firstName", "lastName") if isinstance(item.get(n), str))
        if full.strip() and item.get("erasedAt") is None:
            texts.add(full.strip())
        if kind == "contact" and isinstance(item.get("leadId"), str):
            leads.add(item["leadId"])
    return {"emails": sorted(emails), "texts": sorted(texts), "leadIds": sorted(leads)}


def forget_record(kind: str, record_id: str) -> dict[str, int]:
    """Erase one contact or lead: the record, its unique claims, its history values, its timeline text.
    Counts what it covered (the same on a repeat, so a redelivered step counts the same)."""
    personal = PERSONAL_FIELDS[kind]
    table = _table()
    client = dynamodb()
    for _ in range(MAX_ATTEMPTS):
        item = get_item(table, keys.record_key(kind, record_id), consistent=True)
        if item is None:
            return {f"{kind}s": 0}
        if item.get("erasedAt") is not None:
            break
        now = iso_utc(clock.now())
        version = int(item.get("version", 1))
        erased = {name: value for name, value in item.items() if name not in personal}
        erased |= {"version": version + 1, "updatedAt": now, "erasedAt": now}
        if "updatedBy" in item:
            erased["updatedBy"] = ERASURE.user_id
        if kind in REQUIRED_NAME:
            erased[REQUIRED_NAME[kind]] = ERASED_NAME
        entry = {
            **keys.history_key(kind, record_id, version + 1),
            "kind": kind,
            "recordId": record_id,
            "version": version + 1,
            "action": "erased",
            "at": now,
            "by": ERASURE.user_id,
            "byName": ERASURE.username,
            "changes": [{"field": name} for name in personal if name in item],
        }
        claims: list[Any] = []
        if kind == "contact" and isinstance(item.get("email"), str):
            claim = keys.unique_key(kind, "email", item["email"].strip().lower())
            claims.append({"Delete": {"TableName": table, "Key": serialize(claim)}})
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": serialize(erased),
                            "ConditionExpression": "#v = :v",
                            "ExpressionAttributeNames": {"#v": "version"},
                            "ExpressionAttributeValues": serialize({":v": version}),
                        }
                    },
                    {
                        "Put": {
                            "TableName": table,
                            "Item": serialize(entry),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    *claims,
                ]
            )
            break
        except client.exceptions.TransactionCanceledException:
            continue  # someone wrote the record meanwhile: read it again
    else:
        raise RuntimeError(f"{kind} {record_id} kept changing during its erasure; the step runs again")
    history = _scrub_history(kind, record_id, personal)
    timeline = _scrub_timeline(kind, record_id, item.get("accountId"))
    return {f"{kind}s": 1, "historyEntries": history, "timelineEntries": timeline}


def _scrub_history(kind: str, record_id: str, personal: Sequence[str]) -> int:
    """Every history entry of the record, its personal fields' values dropped (the field names stay)."""
    table = _table()
    count = 0
    for item in _partition(keys.record_key(kind, record_id)["pk"], keys.HISTORY_PREFIX):
        count += 1
        changes = item.get("changes") or []
        scrubbed = [
            {"field": change["field"]} if _personal_field(str(change.get("field", "")), personal) else change
            for change in changes
        ]
        if scrubbed != changes:
            dynamodb().put_item(TableName=table, Item=serialize({**item, "changes": scrubbed}))
    return count


def _scrub_timeline(kind: str, record_id: str, account_id: Any) -> int:
    """The account timeline entries of the record: their summary named the person, their details held
    changed values."""
    if not isinstance(account_id, str) or not account_id:
        return 0
    count = 0
    for item in _partition(keys.record_key("account", account_id)["pk"], keys.TIMELINE_PREFIX):
        if item.get("recordId") != record_id or item.get("kind") != kind:
            continue
        count += 1
        summary = f"{kind.capitalize()} {item.get('action', 'changed')} (erased)"
        if item.get("summary") != summary or item.get("details"):
            dynamodb().put_item(
                TableName=_table(), Item=serialize({**item, "summary": summary, "details": {}})
            )
    return count


def _personal_field(field: str, personal: Sequence[str]) -> bool:
    return field.split(".", 1)[0] in personal


def attachments_of(contact_ids: Sequence[str]) -> list[str]:
    """The attachments (`<pk> <sk>` of their metadata) of every ticket, quote and order these contacts are
    named on: a list query per kind, filtered by contact (a worker's read, never a request's)."""
    if not contact_ids:
        return []
    wanted = set(contact_ids)
    found = []
    for kind in ATTACHMENT_PARENTS:
        for record in _records_of_kind(kind):
            if record.get("contactId") not in wanted:
                continue
            pk = keys.record_key(kind, str(record[_id_attribute(kind)]))["pk"]
            found += [f"{item['pk']} {item['sk']}" for item in _partition(pk, keys.ATTACHMENT_PREFIX)]
    return found


def forget_attachments(targets: Sequence[str]) -> int:
    """Delete these attachments (`<pk> <sk>`): each version and delete marker of the file, then its
    metadata. Counts the targets (a repeat finds them gone and counts the same)."""
    if not targets:
        return 0
    bucket = load(CommerceSettings).require_bucket()
    for target in targets:
        pk, _, sk = target.partition(" ")
        item = get_item(_table(), {"pk": pk, "sk": sk}, consistent=True)
        if item is None:
            continue
        object_key = item.get("objectKey")
        if isinstance(object_key, str):
            delete_object_versions(bucket, object_key)
        dynamodb().delete_item(TableName=_table(), Key=serialize({"pk": pk, "sk": sk}))
    return len(targets)


def delete_object_versions(bucket: str, key: str) -> int:
    """Every version and delete marker of one object (a versioned bucket keeps them otherwise)."""
    client = s3()
    deleted = 0
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if entry["Key"] != key:
                continue
            client.delete_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])
            deleted += 1
    return deleted


def _records_of_kind(kind: str) -> Iterable[dict[str, Any]]:
    """Every record of a kind (its GSI1 list, page by page); a worker's read, never a request's."""
    client = dynamodb()
    start: dict[str, Any] | None = None
    while True:
        request: dict[str, Any] = {
            "TableName": _table(),
            "IndexName": "GSI1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": {"S": f"{kind.upper()}S"}},
            "ProjectionExpression": "pk, contactId, #id",
            "ExpressionAttributeNames": {"#id": _id_attribute(kind)},
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = client.query(**request)
        yield from (deserialize(item) for item in response.get("Items", []))
        start = response.get("LastEvaluatedKey")
        if not start:
            return


def _partition(pk: str, prefix: str) -> Iterable[dict[str, Any]]:
    client = dynamodb()
    start: dict[str, Any] | None = None
    while True:
        request: dict[str, Any] = {
            "TableName": _table(),
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": serialize({":pk": pk, ":prefix": prefix}),
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = client.query(**request)
        yield from (deserialize(item) for item in response.get("Items", []))
        start = response.get("LastEvaluatedKey")
        if not start:
            return


def _id_attribute(kind: str) -> str:
    return f"{kind}Id"


def _table() -> str:
    return get_settings().main_table

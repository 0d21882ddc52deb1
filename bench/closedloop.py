"""The closed loop: CRM changes per second through `closedloop.changes.apply` (MainChangesFunction's
work) on moto, and DynamoDB calls per change, against a bare PutItem of the same items in the same run.

One fresh moto holds PEOPLE people, each a profile with an email identity, a CRM contact linked to it and
an account. The workloads are stream batches of 100 records, shaped as Lambda delivers them:
- deal opened: a deal INSERT per person (the person moves to `opportunity`, the deal joins their open deals);
- deal won: the same deals' MODIFY to won (the person becomes a customer; revenue on person and account);
- contact edited: a contact MODIFY that changes the first name and the title (the profile's traits);
- redelivered: the deal-won batch once more (every change finds its marker: nothing is written).
The baseline puts each change's new image as one item (PutItem), the least any consumer could do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench import stack_on_moto
from bench.scoring import READ_CALLS, WRITE_CALLS, _Meter

PEOPLE = 200
BATCH = 100


@dataclass(frozen=True)
class Workload:
    label: str
    changes: int
    seconds: float  # all batches, moto included
    aws_seconds: float
    calls: dict[str, float]  # per change
    bare_seconds: float  # the baseline: one PutItem per change, same items

    @property
    def per_second(self) -> float:
        return self.changes / self.seconds

    @property
    def bare_per_second(self) -> float:
        return self.changes / self.bare_seconds

    @property
    def reads(self) -> float:
        return sum(self.calls.get(name, 0) for name in READ_CALLS)

    @property
    def writes(self) -> float:
        return sum(self.calls.get(name, 0) for name in WRITE_CALLS)


def measure() -> list[Workload]:
    with stack_on_moto():
        from leadstream.aws import dynamodb

        people = _people()
        meter = _Meter()
        meter.install(dynamodb())
        opened = [_record("DEAL", None, _deal(p, "open", 1), n) for n, p in enumerate(people)]
        won = [
            _record("DEAL", _deal(p, "open", 1), _deal(p, "won", 2), n + PEOPLE) for n, p in enumerate(people)
        ]
        edited = [
            _record("CONTACT", p["contact"], _edited(p["contact"]), n + 2 * PEOPLE)
            for n, p in enumerate(people)
        ]
        return [
            _run("deal opened", opened, meter),
            _run("deal won", won, meter),
            _run("contact edited", edited, meter),
            _run("redelivered (deal won again)", won, meter),
        ]


def _people() -> list[dict[str, Any]]:
    """Profiles (with their email identities), accounts and linked contacts, stored directly."""
    from crm.resources.accounts import ACCOUNT, Account
    from crm.resources.contacts import CONTACT, Contact
    from leadstream import clock
    from leadstream.profiles import IdentityRef, IdentityWrite, Profile
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import batch_put
    from leadstream.store.profiles import identity_item, profile_item

    now = clock.now()
    people, items = [], []
    for n in range(PEOPLE):
        email = f"person{n}@corp{n % 50}.io"
        profile = Profile(profile_id=f"p-{n:05d}", version=1, email=email, traits={"firstName": "P"})
        profile.add_identity(IdentityRef(kind="email", value=email))
        profile.score.add_points(10 + n % 40, now)
        items += [
            profile_item(profile),
            identity_item(IdentityWrite(IdentityRef(kind="email", value=email), profile.profile_id, None)),
        ]
        account_id, contact_id = f"a-{n % 50:03d}", f"c-{n:05d}"
        if n < 50:
            account = Account(account_id=account_id, name=f"Corp {n}", created_at=now, updated_at=now)
            items.append(ACCOUNT.item(account))
        contact = Contact(
            contact_id=contact_id, last_name=f"Person {n}", email=email, account_id=account_id,
            profile_id=profile.profile_id, created_at=now, updated_at=now,
        )  # fmt: skip
        items.append(CONTACT.item(contact))
        document = CONTACT.document(contact)
        people.append({"profile": profile.profile_id, "contact": document, "account": account_id})
    batch_put(get_settings().main_table, items)
    return people


def _deal(person: dict[str, Any], outcome: str, version: int) -> dict[str, Any]:
    number = person["contact"]["contactId"].removeprefix("c-")
    return {
        "pk": f"DEAL#d-{number}", "sk": "DEAL", "dealId": f"d-{number}", "name": f"Deal {number}",
        "contactId": person["contact"]["contactId"], "accountId": person["account"], "outcome": outcome,
        "stageId": outcome if outcome != "open" else "qualification", "amount": "1200.00", "currency": "EUR",
        "version": version,
    }  # fmt: skip


def _edited(contact: dict[str, Any]) -> dict[str, Any]:
    return {
        **contact,
        "firstName": "Edited",
        "title": "Buyer",
        "version": 2,
        "updatedAt": "2099-01-01T00:00:00.000000Z",
    }


def _record(sk: str, old: dict[str, Any] | None, new: dict[str, Any], sequence: int) -> dict[str, Any]:
    from leadstream.store.dynamo import serialize

    pk = new.get("pk") or f"{sk}#{new['contactId']}"
    data: dict[str, Any] = {
        "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
        "NewImage": serialize({"pk": pk, "sk": sk, **new}),
        "SequenceNumber": str(sequence),
    }
    if old is not None:
        data["OldImage"] = serialize({"pk": pk, "sk": sk, **old})
    return {"eventName": "MODIFY" if old else "INSERT", "dynamodb": data}


def _run(label: str, records: list[dict[str, Any]], meter: _Meter) -> Workload:
    from closedloop import changes
    from leadstream.aws import dynamodb
    from leadstream.settings import get_settings

    meter.calls.clear()
    waited = meter.aws_seconds
    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        assert changes.apply(records[start : start + BATCH]) == []
    seconds = time.perf_counter() - started
    calls = {name: count / len(records) for name, count in meter.calls.items()}
    aws_seconds = meter.aws_seconds - waited
    # The baseline: the same items, one PutItem each (into bench partitions of their own).
    client, table = dynamodb(), get_settings().main_table
    started = time.perf_counter()
    for record in records:
        image = dict(record["dynamodb"]["NewImage"])
        image["pk"] = {"S": "BENCH#" + image["pk"]["S"]}
        client.put_item(TableName=table, Item=image)
    bare = time.perf_counter() - started
    return Workload(label, len(records), seconds, aws_seconds, calls, bare)


def render(results: list[Workload]) -> list[str]:
    lines = [
        "## Closed loop: CRM changes through `closedloop.changes.apply`, moto in-process",
        "",
        f"Command: `make bench` (bench/closedloop.py). {PEOPLE} people (profile, email identity, a CRM",
        f"contact linked to the profile, one of 50 accounts); each workload is {PEOPLE} stream records in",
        f"batches of {BATCH}, as Lambda delivers them, applied as MainChangesFunction applies them. The",
        "baseline, in the same run, puts each change's new image as one item (one PutItem per change): the",
        "least any consumer of the stream could do. Calls are per change.",
        "",
        "| workload | changes/s | bare puts/s | loop ÷ bare (throughput) | ms per change "
        "| of which ours (not moto) | DynamoDB reads | DynamoDB writes | calls by operation |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for work in results:
        calls = ", ".join(f"{name} {count:.2f}" for name, count in sorted(work.calls.items()))
        per_change = work.seconds / work.changes * 1000
        ours = (work.seconds - work.aws_seconds) / work.changes * 1000
        lines.append(
            f"| {work.label} | {work.per_second:,.0f} | {work.bare_per_second:,.0f} "
            f"| {work.per_second / work.bare_per_second:.2f} | {per_change:.1f} | {ours:.1f} "
            f"| {work.reads:.2f} | {work.writes:.2f} | {calls} |"
        )
    lines += [
        "",
        "Per deal change: one BatchGetItem of the contact, one GetItem of the profile (following merges),",
        "and one TransactWriteItems with the change's marker, the profile's stage (when it moves), the",
        "person's open deals and the revenue items; a loss reads the person's open deals once more. Per",
        "contact edit: the profile read and one TransactWriteItems (marker and profile; an email change",
        "also reads the address's owner). Before any of that, one BatchGetItem per batch reads the markers",
        "of the batch's deal and order changes: a redelivered one is skipped there, without a read or a",
        "write of its own (a redelivered contact edit is refused by its marker), so nothing is written",
        "twice. docs/closed-loop.md explains the costs.",
        "",
    ]
    return lines

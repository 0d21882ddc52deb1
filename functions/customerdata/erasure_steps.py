"""The erasure's steps over the stores of the domains below this one (docs/customer-data.md, Erasure).

Each is a `customerdata.erasure.Step`: `collect` names what still holds the person's data, `erase` erases
exactly that through the owning domain's public function and counts it. The worker
(handlers/erasure_worker.py) adds the steps of the website and integrations domains and orders them all:
the profile step comes last, so that a store whose search needs the profile's identities finds them.
"""

from __future__ import annotations

from crm import erasure as crm_erasure
from customerdata.erasure import Step, Subject
from customerdata.store import erasure_files
from leadstream import clock, idempotency
from leadstream.store import profiles
from mail import erasure as mail_erasure
from tracking import erasure as tracking_erasure


def _events(subject: Subject, limit: int) -> list[str]:
    return tracking_erasure.personal_events(subject.identities, limit)


def _erase_events(subject: Subject, targets: list[str]) -> dict[str, int]:
    return {"anonymised": tracking_erasure.forget_events(targets, subject.pseudonym, subject.needles)}


def _sends(subject: Subject, limit: int) -> list[str]:
    return mail_erasure.personal_sends(subject.profile_ids, limit)


def _erase_sends(subject: Subject, targets: list[str]) -> dict[str, int]:
    return {"anonymised": mail_erasure.forget_sends(targets, clock.now())}


def _suppression(subject: Subject, limit: int) -> list[str]:
    return list(subject.emails)


def _erase_suppression(subject: Subject, targets: list[str]) -> dict[str, int]:
    mail_erasure.suppress_erased(targets, clock.now())
    return {"hashed": len(targets)}


def _crm(subject: Subject, limit: int) -> list[str]:
    targets = [f"contact {contact_id}" for contact_id in subject.contact_ids]
    targets += [f"lead {lead_id}" for lead_id in subject.lead_ids]
    targets += [f"attachment {key}" for key in crm_erasure.attachments_of(subject.contact_ids)]
    return targets


def _erase_crm(subject: Subject, targets: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {"attachments": 0}
    attachments = []
    for target in targets:
        kind, _, record_id = target.partition(" ")
        if kind == "attachment":
            attachments.append(record_id)
            continue
        for what, count in crm_erasure.forget_record(kind, record_id).items():
            counts[what] = counts.get(what, 0) + count
    counts["attachments"] = crm_erasure.forget_attachments(attachments)
    return counts


def _idempotency(subject: Subject, limit: int) -> list[str]:
    return idempotency.records_mentioning([*subject.needles, *subject.contact_ids, *subject.lead_ids], limit)


def _erase_idempotency(subject: Subject, targets: list[str]) -> dict[str, int]:
    return {"removed": idempotency.forget_records(targets)}


def _imports(subject: Subject, limit: int) -> list[str]:
    return erasure_files.objects_mentioning(subject.emails, limit)


def _erase_imports(subject: Subject, targets: list[str]) -> dict[str, int]:
    erasure_files.remove_lines(targets, subject.emails)
    return {"files": len(targets)}


def _profiles(subject: Subject, limit: int) -> list[str]:
    targets = [f"profile {profile_id}" for profile_id in subject.profile_ids]
    targets += [f"identity {ref.kind}:{ref.value}" for ref in subject.identities]
    return targets  # one page: a person has a handful


def _erase_profiles(subject: Subject, targets: list[str]) -> dict[str, int]:
    at = clock.now()
    counts = {"profiles": 0, "identities": 0, "merges": 0}
    for target in targets:
        kind, _, value = target.partition(" ")
        if kind == "profile":
            counts["profiles"] += 1 if profiles.forget_profile(value, at) else 0
            counts["merges"] += profiles.forget_merges(value)
    refs = [ref for ref in subject.identities if f"identity {ref.kind}:{ref.value}" in targets]
    counts["identities"] = profiles.forget_identities(refs, subject.profile_ids)
    return counts


EVENTS = Step("events", _events, _erase_events)
SENDS = Step("emailSends", _sends, _erase_sends)
SUPPRESSION = Step("suppression", _suppression, _erase_suppression, paged=False)
CRM = Step("crm", _crm, _erase_crm, paged=False)
IDEMPOTENCY = Step("idempotencyRecords", _idempotency, _erase_idempotency)
IMPORT_FILES = Step("importFiles", _imports, _erase_imports)
PROFILES = Step("profile", _profiles, _erase_profiles, paged=False)


def core_steps() -> list[Step]:
    """The steps of the stores below customer data, in order, the profile's last."""
    return [EVENTS, SENDS, SUPPRESSION, CRM, IDEMPOTENCY, IMPORT_FILES, PROFILES]

"""The key design of both tables, in one place. docs/data-model.md explains every access pattern."""

from __future__ import annotations

# Events table: one item per (source, messageId), so a resent message overwrites itself.
EVENT_SK = "EVENT"


def event_key(source_id: str, message_id: str) -> dict[str, str]:
    return {"pk": f"EVENT#{source_id}#{message_id}", "sk": EVENT_SK}


# Main table (single-table design).
def source_key(source_id: str) -> dict[str, str]:
    return {"pk": f"SOURCE#{source_id}", "sk": "SOURCE"}


def write_key_index(write_key: str) -> dict[str, str]:
    """GSI1 entry that finds a source by its write key."""
    return {"gsi1pk": f"WRITEKEY#{write_key}", "gsi1sk": "SOURCE"}


def form_key(form_id: str) -> dict[str, str]:
    return {"pk": f"FORM#{form_id}", "sk": "FORM"}


def profile_key(profile_id: str) -> dict[str, str]:
    return {"pk": f"PROFILE#{profile_id}", "sk": "PROFILE"}


def identity_key(kind: str, value: str) -> dict[str, str]:
    """An identity (anonymous id, user id, email) points at the profile it belongs to."""
    return {"pk": f"IDENTITY#{kind}#{value}", "sk": "IDENTITY"}


MERGE_SK_PREFIX = "MERGE#"


def merge_key(survivor_id: str, absorbed_id: str) -> dict[str, str]:
    """Record that `absorbed_id` (an anonymous profile) was merged into `survivor_id`."""
    return {"pk": f"PROFILE#{survivor_id}", "sk": f"{MERGE_SK_PREFIX}{absorbed_id}"}


# CRM leads. GSI1 lists the leads sales may see, newest first; GSI2 lists a rep's own leads.
def lead_key(lead_id: str) -> dict[str, str]:
    return {"pk": f"LEAD#{lead_id}", "sk": "LEAD"}


def lead_indexes(
    *, visible_to_sales: bool, owner_id: str | None, created_at: str, lead_id: str
) -> dict[str, str]:
    """Index entries of a lead. A lead hidden from sales has no GSI1/GSI2 entry at all, so no sales
    query can return it, whatever its filters."""
    if not visible_to_sales:
        return {}
    entries = {"gsi1pk": "LEADS#SALES", "gsi1sk": f"{created_at}#{lead_id}"}
    if owner_id:
        entries |= {"gsi2pk": f"OWNER#{owner_id}#LEADS", "gsi2sk": f"{created_at}#{lead_id}"}
    return entries

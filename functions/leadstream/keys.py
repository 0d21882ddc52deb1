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


# --- scoring, lifecycle and handoff (docs/scoring.md) ------------------------------------------------
# Profiles are listed by current score (GSI1) and by lifecycle stage (GSI2). Every profile write updates
# its entries, so each list is spread over PROFILE_INDEX_SHARDS partitions (by a hash of the profile id)
# that a reader queries together: no single index partition takes every profile write.
PROFILE_INDEX_SHARDS = 8
EVENTS_BY_IDENTITY_INDEX = "ByIdentity"
SCORING_CONFIG_PK = "CONFIG#SCORING"
HANDOFF_SK_PREFIX = "HANDOFF#"


def profile_shard(profile_id: str) -> int:
    import zlib

    return zlib.crc32(profile_id.encode()) % PROFILE_INDEX_SHARDS


def score_index_partition(shard: int) -> str:
    return f"SCORES#{shard}"


def stage_index_partition(stage: str, shard: int) -> str:
    return f"STAGE#{stage}#{shard}"


def profile_indexes(
    *, profile_id: str, score_key: str | None, stage: str | None, stage_changed_at: str | None
) -> dict[str, str]:
    """Index entries of a profile: by score (known, live profiles) and by stage (newest change first).
    An absorbed profile (mergedInto) gets none: it is history, not a person to list."""
    shard = profile_shard(profile_id)
    entries: dict[str, str] = {}
    if score_key is not None:
        entries |= {"gsi1pk": score_index_partition(shard), "gsi1sk": f"{score_key}#{profile_id}"}
    if stage is not None:
        entries |= {
            "gsi2pk": stage_index_partition(stage, shard),
            "gsi2sk": f"{stage_changed_at or ''}#{profile_id}",
        }
    return entries


def tag_key(tag: str, profile_id: str) -> dict[str, str]:
    """A profile carries a tag: one item per (tag, profile), so a tag's profiles are one Query."""
    return {"pk": f"TAG#{tag}", "sk": f"PROFILE#{profile_id}"}


def handoff_key(profile_id: str, number: int) -> dict[str, str]:
    """The n-th handoff of a profile to sales and the steps done for it (owner, lead, email, event)."""
    return {"pk": f"PROFILE#{profile_id}", "sk": f"{HANDOFF_SK_PREFIX}{number:06d}"}


def scoring_rule_key(rule_id: str) -> dict[str, str]:
    """Scoring configuration lives in one partition, read whole with one Query."""
    return {"pk": SCORING_CONFIG_PK, "sk": f"RULE#{rule_id}"}


def assignment_rule_key(rule_id: str) -> dict[str, str]:
    return {"pk": SCORING_CONFIG_PK, "sk": f"ASSIGN#{rule_id}"}


def scoring_settings_key() -> dict[str, str]:
    return {"pk": SCORING_CONFIG_PK, "sk": "SETTINGS"}


def scoring_seeded_key() -> dict[str, str]:
    """Marks that the default rules were seeded once (deleting every rule does not bring them back)."""
    return {"pk": SCORING_CONFIG_PK, "sk": "SEEDED"}


def round_robin_key() -> dict[str, str]:
    """The position of round-robin lead assignment among the active sales users."""
    return {"pk": SCORING_CONFIG_PK, "sk": "ROUNDROBIN"}


def event_identity(kind: str, value: str) -> str:
    """The events table's `identity` attribute (GSI ByIdentity): whose event it is, as tracking saw it."""
    return f"{kind}:{value}"

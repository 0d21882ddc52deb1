"""Finding profiles for marketing: by email, by lifecycle stage, by tag, and the top by current score.

Score and stage lists are index partitions spread over keys.PROFILE_INDEX_SHARDS shards, read together
(leadstream.store.merged); a tag's profiles are one partition of membership items. No Scan anywhere.
"""

from __future__ import annotations

from leadstream import keys
from leadstream.profiles import IdentityRef, Profile
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize
from leadstream.store.merged import Partition, merged_page
from leadstream.store.profiles import load_profiles, profile_of

_PROFILE_KEYS = ("pk", "sk")


def by_email(email: str) -> Profile | None:
    return profile_of(IdentityRef(kind="email", value=email.strip().lower()))


def top_by_score(*, limit: int, cursor: str | None) -> tuple[list[Profile], str | None]:
    """Known profiles, highest current engagement first (forward decay: the stored order is the current)."""
    partitions = [
        _index_partition("GSI1", "gsi1", keys.score_index_partition(shard), f"score{shard}")
        for shard in range(keys.PROFILE_INDEX_SHARDS)
    ]
    return _profiles(partitions, limit=limit, cursor=cursor)


def by_stage(stage: str, *, limit: int, cursor: str | None) -> tuple[list[Profile], str | None]:
    """Profiles in a lifecycle stage, those that entered it most recently first."""
    partitions = [
        _index_partition("GSI2", "gsi2", keys.stage_index_partition(stage, shard), f"stage{shard}")
        for shard in range(keys.PROFILE_INDEX_SHARDS)
    ]
    return _profiles(partitions, limit=limit, cursor=cursor)


def by_tag(tag: str, *, limit: int, cursor: str | None) -> tuple[list[Profile], str | None]:
    """Profiles carrying a tag (in profile id order)."""
    membership = keys.tag_key(tag, "")["pk"]
    partition = Partition(
        name="tag",
        table=get_settings().main_table,
        index=None,
        key_attribute="pk",
        key_value=membership,
        sort_attribute="sk",
        key_attributes=_PROFILE_KEYS,
    )
    rows, next_cursor = merged_page([partition], limit=limit, cursor=cursor, descending=False)
    ids = [deserialize(row)["profileId"] for row in rows]
    found = load_profiles(ids)
    return [found[pid] for pid in ids if pid in found], next_cursor


def _index_partition(index: str, prefix: str, value: str, name: str) -> Partition:
    return Partition(
        name=name,
        table=get_settings().main_table,
        index=index,
        key_attribute=f"{prefix}pk",
        key_value=value,
        sort_attribute=f"{prefix}sk",
        key_attributes=(*_PROFILE_KEYS, f"{prefix}pk", f"{prefix}sk"),
    )


def _profiles(
    partitions: list[Partition], *, limit: int, cursor: str | None
) -> tuple[list[Profile], str | None]:
    rows, next_cursor = merged_page(partitions, limit=limit, cursor=cursor)
    return [Profile.model_validate(deserialize(row)) for row in rows], next_cursor

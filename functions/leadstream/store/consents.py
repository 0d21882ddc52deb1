"""A person's consents: the current ones live on the profile item, every change as a history item beside it
(`PROFILE#<id>` / `CONSENT#<at>#<purpose>#<digest>`; docs/data-model.md, docs/customer-data.md).

Scoring records the consents events carry in its own profile transaction (leadstream.store.profiles);
this module records the ones given through the API and the preference center: the live profile is read,
changed and written back on its version with the history items, in one transaction, read again on a lost
race. Recording an answer the profile already holds changes nothing, so a retried request writes nothing
twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadstream import consents, keys
from leadstream.aws import dynamodb
from leadstream.consents import Consent
from leadstream.profiles import Profile, iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, serialize
from leadstream.store.profiles import conditional_profile_put, live_profile, transact

ATTEMPTS = 5
MAX_HISTORY = 1000


@dataclass(frozen=True)
class Answer:
    """One answer to record: granted or declined, and the words the person was shown."""

    granted: bool
    text: str | None = None


class ConsentConflict(Exception):
    """The profile kept changing under us (ATTEMPTS lost races in a row)."""


def record(
    profile_id: str, answers: Mapping[str, Answer], *, source: str, at: datetime, ref: str
) -> tuple[Profile, list[str]] | None:
    """Record `answers` (purpose -> answer) on the live profile of `profile_id`; the profile as stored and
    the purposes that changed. None: no such profile. `ref` tells this change apart from others at the
    same moment (a request or message id)."""
    moment = iso_utc(at)
    stamp = consents.change_stamp(moment, ref)
    for _ in range(ATTEMPTS):
        profile = live_profile(profile_id)
        if profile is None:
            return None
        before = dict(profile.consents)
        changed = [
            purpose
            for purpose, answer in sorted(answers.items())
            if profile.consent(
                purpose,
                Consent(granted=answer.granted, source=source, text=answer.text, at=moment, stamp=stamp),
            )
        ]
        if not changed:
            return profile, []
        table = get_settings().main_table
        items = [conditional_profile_put(profile, profile.version)]
        items += [
            {"Put": {"TableName": table, "Item": serialize(consents.history_item(profile.profile_id, p, c))}}
            for p, c in consents.changes(before, profile.consents)
        ]
        if transact(items):
            return profile.model_copy(update={"version": profile.version + 1}), changed
    raise ConsentConflict(f"profile {profile_id} kept changing; try again")


def history(profile_id: str, *, limit: int = MAX_HISTORY) -> list[dict[str, Any]]:
    """The changes of a person's consent, newest first (the proof of each answer)."""
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": serialize(
            {":pk": keys.profile_key(profile_id)["pk"], ":prefix": keys.CONSENT_SK_PREFIX}
        ),
        "ScanIndexForward": False,
    }
    entries: list[dict[str, Any]] = []
    while len(entries) < limit:
        response = dynamodb().query(**request, Limit=min(limit - len(entries), 500))
        for raw in response.get("Items", []):
            item = deserialize(raw)
            entries.append({name: value for name, value in item.items() if name not in ("pk", "sk")})
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return entries

"""Consent: what a person agreed to, per purpose, with its proof (docs/customer-data.md, "Consent").

A purpose is `tracking` (behavioural tracking), `email` (marketing email at all) or `topic:<topicId>`
(one subscription topic). Each consent is granted or declined, with its source (`form`, `identify`,
`api`, `preference-center`, or the type of the event that carried it), the text the person was shown,
and when. A profile keeps the current consent per purpose (`Profile.consents`); every change is also
kept as a history item beside the profile (leadstream.store.consents), the proof of consent.

Consent reaches a profile three ways: on any tracked event as Segment's consent object
(`context.consent.categoryPreferences`, a map of category to true/false, which analytics.js and the
consent wrappers put on every event), from website forms (their consent checkboxes become the same
object, source `form`), and through the API and the preference center (leadstream.store.consents).

Newest wins per purpose, by the same stamps as traits, so the profile is the same whatever order events
arrive in; an observation that changes nothing (the same answer again, which consent wrappers repeat on
every event) is not a change and writes no history.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, Field

from leadstream import keys
from leadstream.models import Model

TRACKING = "tracking"
EMAIL = "email"
TOPIC_PREFIX = "topic:"
TOPIC_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
PURPOSE_PATTERN = r"^(tracking|email|topic:[a-z0-9][a-z0-9-]{0,62})$"
_PURPOSE = re.compile(PURPOSE_PATTERN)
# Segment's category names that mean our purposes (compared in lower case). Consent managers name their
# categories freely; a site that uses other names maps them in its consent wrapper.
ALIASES = {"analytics": TRACKING, "tracking": TRACKING, "email": EMAIL, "email_marketing": EMAIL}
MAX_PURPOSES_PER_EVENT = 50
# A profile keeps at most this many topic answers: topic ids on events are not checked against the topics
# (tracking and scoring read none), so the cap keeps a stream of made-up ones from growing the item.
MAX_TOPIC_PURPOSES = 40
MAX_TEXT = 1000
MAX_SOURCE = 40

SOURCES = ("form", "identify", "api", "preference-center")


class Consent(Model):
    """The current consent for one purpose."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    granted: bool
    source: str = Field(max_length=MAX_SOURCE)
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    at: str  # fixed-width ISO-8601 UTC (leadstream.profiles.iso_utc)
    # Orders observations of one purpose (an event_stamp, or the time and id of an API change).
    stamp: str
    message_id: str | None = Field(default=None, alias="messageId")  # the event that carried it, if any


def topic_count(consents: Mapping[str, Consent]) -> int:
    return sum(1 for purpose in consents if purpose.startswith(TOPIC_PREFIX))


def topic_purpose(topic_id: str) -> str:
    return f"{TOPIC_PREFIX}{topic_id}"


def is_purpose(value: str) -> bool:
    return bool(_PURPOSE.match(value))


def purpose_of(category: str) -> str | None:
    """Our purpose for a Segment consent category name (None: a category we do not use)."""
    lowered = category.strip().lower()
    if lowered in ALIASES:
        return ALIASES[lowered]
    return lowered if lowered.startswith(TOPIC_PREFIX) and is_purpose(lowered) else None


def preferences(context: Mapping[str, Any]) -> dict[str, bool]:
    """The purposes an event's `context.consent.categoryPreferences` grants (True) or declines (False).
    Anything that is not a boolean for a known purpose is ignored."""
    consent = context.get("consent")
    if not isinstance(consent, Mapping):
        return {}
    categories = consent.get("categoryPreferences")
    if not isinstance(categories, Mapping):
        return {}
    found: dict[str, bool] = {}
    for name, value in list(categories.items())[: MAX_PURPOSES_PER_EVENT * 4]:
        purpose = purpose_of(name) if isinstance(name, str) else None
        if purpose is not None and isinstance(value, bool) and len(found) < MAX_PURPOSES_PER_EVENT:
            # Two names for one purpose in one event (Analytics and tracking): a decline wins.
            found[purpose] = found.get(purpose, True) and value
    return found


def declines_tracking(context: Mapping[str, Any]) -> bool:
    """Does the event itself say the person declined tracking? Tracking stores nothing of such an event."""
    return preferences(context).get(TRACKING) is False


def _text_for(consent: Mapping[str, Any], purpose: str) -> str | None:
    text = consent.get("text")
    if isinstance(text, Mapping):
        text = text.get(purpose)
    return text[:MAX_TEXT] if isinstance(text, str) and text.strip() else None


def consents_of(
    context: Mapping[str, Any], *, stamp: str, at: str, source: str, message_id: str | None
) -> dict[str, Consent]:
    """The consents an event carries, as profile consents (source: the event's type, or `form`)."""
    found = preferences(context)
    if not found:
        return {}
    consent = context.get("consent")
    assert isinstance(consent, Mapping)
    return {
        purpose: Consent(
            granted=granted,
            source=source[:MAX_SOURCE],
            text=_text_for(consent, purpose),
            at=at,
            stamp=stamp,
            message_id=message_id,
        )
        for purpose, granted in found.items()
    }


def event_source(context: Mapping[str, Any], event_type: str) -> str:
    """Where an event's consent came from: `form` for a form's checkboxes (tracking.forms says so in
    `context.consent.source`), else the event's type (`identify`, `track`, ...)."""
    consent = context.get("consent")
    stated = consent.get("source") if isinstance(consent, Mapping) else None
    return "form" if stated == "form" else event_type


def supersedes(new: Consent, current: Consent | None, *, topics_held: int = 0) -> bool:
    """Does `new` change the current consent? Only a newer observation with another answer (or new
    wording) does: a repeated answer keeps the time and source of the first. A new topic answer past
    MAX_TOPIC_PURPOSES (`topics_held`: how many the profile has) is not taken."""
    if current is None:
        return topics_held < MAX_TOPIC_PURPOSES
    if new.stamp <= current.stamp:
        return False
    return new.granted != current.granted or (new.text is not None and new.text != current.text)


def allows(consents: Mapping[str, Consent], purpose: str) -> bool:
    """May we act for `purpose`? Yes unless the person declined it (no answer: as before consent was
    recorded, so existing audiences keep their email)."""
    consent = consents.get(purpose)
    return consent is None or consent.granted


def change_stamp(moment: str, ref: str) -> str:
    """The stamp of a change made through the API or the preference center (`moment`: its fixed-width
    ISO time): its time first, so it compares with event stamps by time."""
    return f"{moment}|{moment}|{ref}|consent"


def history_item(profile_id: str, purpose: str, consent: Consent) -> dict[str, Any]:
    """The history item of one change: keyed by its time, purpose and a digest of its stamp, so writing
    the same change again (a retried batch) rewrites the same item."""
    suffix = f"{purpose}#{hashlib.sha256(consent.stamp.encode()).hexdigest()[:12]}"
    return {
        **keys.consent_history_key(profile_id, consent.at, suffix),
        "profileId": profile_id,
        "purpose": purpose,
        **consent.model_dump(by_alias=True, exclude_none=True),
    }


def changes(before: Mapping[str, Consent], after: Mapping[str, Consent]) -> list[tuple[str, Consent]]:
    """The purposes whose consent `after` changed, with the new consent (in purpose order)."""
    return [
        (purpose, consent) for purpose, consent in sorted(after.items()) if before.get(purpose) != consent
    ]

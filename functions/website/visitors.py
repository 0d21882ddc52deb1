"""Who is looking: the visitor's anonymous id (analytics.js's `ajs_anonymous_id` cookie, shared with it)
and, in one DynamoDB read, their profile and whatever else a view needs (segment memberships, an unlock).

A visitor's profile is found without an index: scoring founds a profile on the anonymous id of its first
event (`scoring.identity.new_profile_id`), so one BatchGetItem asks for that profile, the anonymous id's
identity item (in case the id joined a profile founded otherwise) and the view's other keys at once.
Only a visitor whose profile was merged into another, or founded by another identity, costs a second read.

Then dynamic content: a slot variant or a pop-up audience matches by segment, stage, tag, or
known/anonymous; the first matching variant wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from leadstream import keys
from leadstream.profiles import IdentityRef, Profile
from leadstream.store.profiles import get_profile
from scoring.identity import new_profile_id
from tracking.forms import ANONYMOUS_ID_COOKIE
from tracking.forms import anonymous_id as tracking_anonymous_id
from website.models import Audience, SlotVariant
from website.store import read_keys

COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_MERGE_HOPS = 4


@dataclass(frozen=True)
class Visitor:
    anonymous_id: str
    # True when this request gave the visitor their id: the answer sets the cookie.
    new: bool
    profile: Profile | None = None
    segments: frozenset[str] = frozenset()
    extra: Mapping[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.profile is not None and self.profile.is_known

    @property
    def traits(self) -> dict[str, Any] | None:
        """The profile's traits for a known person (progressive profiling, personalisation); else None."""
        if self.profile is None or not self.known:
            return None
        traits = dict(self.profile.traits)
        if self.profile.email:
            traits.setdefault("email", self.profile.email)
        return traits

    def has(self, key: Mapping[str, str]) -> bool:
        return (key["pk"], key["sk"]) in self.extra


def visitor_id(cookies: Sequence[str], given: str | None) -> tuple[str, bool]:
    """The anonymous id (cookie first, then an `anonymousId` the caller gave), and whether it is new."""
    fields = {"anonymousId": given} if given else {}
    found = tracking_anonymous_id(cookies, fields)
    had = found == (given or "").strip() or any(_cookie_holds(cookie, found) for cookie in cookies)
    return found, not had


def _cookie_holds(cookie: str, value: str) -> bool:
    name, _, raw = cookie.partition("=")
    return name.strip() == ANONYMOUS_ID_COOKIE and value in unquote(raw)


def set_cookie(anonymous_id: str, *, secure: bool) -> Cookie:
    """The cookie analytics.js would set: first-party, a year, readable by analytics.js (not HttpOnly)."""
    return Cookie(
        ANONYMOUS_ID_COOKIE, anonymous_id, path="/", secure=secure, max_age=COOKIE_MAX_AGE,
        same_site=SameSite.LAX_MODE,
    )  # fmt: skip


def resolve(
    anonymous_id: str,
    *,
    new: bool,
    segment_ids: Iterable[str] = (),
    extra_keys: Sequence[Mapping[str, str]] = (),
) -> Visitor:
    """The visitor with their profile, their memberships among `segment_ids` and the items of
    `extra_keys` that exist. A brand-new visitor costs no read; a returning one one BatchGetItem."""
    if new:
        return Visitor(anonymous_id, new=True)
    profile_id = new_profile_id(IdentityRef(kind="anon", value=anonymous_id))
    wanted_segments = sorted(set(segment_ids))
    identity = keys.identity_key("anon", anonymous_id)
    wanted = [
        keys.profile_key(profile_id),
        identity,
        *(keys.segment_member_key(segment, profile_id) for segment in wanted_segments),
        *extra_keys,
    ]
    found = {(item["pk"], item["sk"]): item for item in read_keys(wanted)}
    profile_item = found.get((keys.profile_key(profile_id)["pk"], "PROFILE"))
    profile = Profile.model_validate(profile_item) if profile_item else None
    owner = found.get((identity["pk"], identity["sk"]), {}).get("profileId")
    if owner and owner != profile_id:
        profile = get_profile(owner)  # the id joined a profile founded by another identity
    hops = 0
    while profile is not None and profile.merged_into and hops < MAX_MERGE_HOPS:
        profile = get_profile(profile.merged_into)
        hops += 1
    segments = {
        segment
        for segment in wanted_segments
        if (
            keys.segment_member_key(segment, profile_id)["pk"],
            keys.segment_member_key(segment, profile_id)["sk"],
        )
        in found
    }
    if profile is not None and profile.profile_id != profile_id and wanted_segments:
        segments = _memberships(profile.profile_id, wanted_segments)
    extra = {
        (key["pk"], key["sk"]): found[(key["pk"], key["sk"])]
        for key in extra_keys
        if (key["pk"], key["sk"]) in found
    }
    return Visitor(anonymous_id, new=False, profile=profile, segments=frozenset(segments), extra=extra)


def _memberships(profile_id: str, segment_ids: Sequence[str]) -> set[str]:
    items = read_keys([keys.segment_member_key(segment, profile_id) for segment in segment_ids])
    return {str(item.get("segmentId")) for item in items}


def new_anonymous_id() -> str:
    return str(uuid.uuid4())


# --- matching ----------------------------------------------------------------------------------------
def matches(audience: Audience, visitor: Visitor) -> bool:
    """Every condition the audience states holds for the visitor (an empty audience: everyone)."""
    profile = visitor.profile
    if audience.anonymous_only and visitor.known:
        return False
    if audience.known_only and not visitor.known:
        return False
    if audience.segment_id and audience.segment_id not in visitor.segments:
        return False
    if audience.stage and (profile is None or profile.stage is None or str(profile.stage) != audience.stage):
        return False
    return not (audience.tag and (profile is None or audience.tag not in profile.tags))


def first_match(variants: Sequence[SlotVariant], visitor: Visitor) -> SlotVariant | None:
    return next((variant for variant in variants if matches(variant.audience, visitor)), None)


def segments_of(audiences: Iterable[Audience]) -> set[str]:
    return {audience.segment_id for audience in audiences if audience.segment_id}

"""A person's accounts in other systems (CRM ids, social handles) as identities of their profile.

Two places name them on an event:
- `context.externalIds`, Segment's list of `{id, type, collection?, encoding?}`: each becomes the identity
  `ext:<type>:<id>`, the type lower-cased to letters, digits, `_`, `-` and `.` (`salesforce_contact_id`);
- traits that name well-known accounts: `linkedin` (a profile URL or its `in/<name>` slug), `twitter` or
  `xHandle` (a handle or profile URL), `salesforceId` / `salesforceContactId` / `salesforceLeadId` (15 or 18
  characters, case kept: Salesforce ids are case-sensitive) and `hubspotId` / `hubspotContactId` (digits).
  They become `ext:linkedin:<slug>`, `ext:x:<handle>`, `ext:salesforce:<id>`, `ext:hubspot:<id>`.

They follow the rules of email and user id (docs/identity.md): a known identity, so two known profiles
that share one are never merged automatically (the event is logged as a conflict), and a profile can be
found by one (`IDENTITY#ext#<type>:<id>`), which is how imports and webhook receivers match a record of
another system to the person without making a duplicate. Values that do not look like what they claim
are ignored, never stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from leadstream.profiles import IdentityRef

EXTERNAL = "ext"
MAX_IDS = 10  # per event; more are ignored
MAX_ID_LENGTH = 200
_TYPE = re.compile(r"^[a-z0-9_.-]{1,40}$")
_SALESFORCE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_HUBSPOT = re.compile(r"^[0-9]{1,20}$")
_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_LINKEDIN_SLUG = re.compile(r"^[A-Za-z0-9\-_%]{3,100}$")

TRAITS: dict[str, str] = {
    "salesforceid": "salesforce",
    "salesforcecontactid": "salesforce",
    "salesforceleadid": "salesforce",
    "hubspotid": "hubspot",
    "hubspotcontactid": "hubspot",
    "linkedin": "linkedin",
    "linkedinurl": "linkedin",
    "twitter": "x",
    "twitterhandle": "x",
    "xhandle": "x",
}


def external_identities(context: Mapping[str, Any], traits: Mapping[str, Any]) -> list[IdentityRef]:
    """The external identities an event names, each once, in a stable order."""
    found: dict[str, None] = {}
    listed = context.get("externalIds")
    if isinstance(listed, list):
        for entry in listed[:MAX_IDS]:
            value = _listed(entry)
            if value:
                found[value] = None
    for name, raw in traits.items():
        system = TRAITS.get(re.sub(r"[\s_-]", "", str(name)).lower())
        value = _from_trait(system, raw) if system else None
        if value:
            found[value] = None
    return [IdentityRef(kind="ext", value=value) for value in list(found)[:MAX_IDS]]


def external_id(system: str, raw: object) -> IdentityRef | None:
    """The identity of an account in another system, as an import names it (`salesforce`, `003...`)."""
    value = _from_trait(system, raw) if system in TRAITS.values() else _typed(system, raw)
    return IdentityRef(kind="ext", value=value) if value else None


def _listed(entry: object) -> str | None:
    if not isinstance(entry, Mapping):
        return None
    return _typed(entry.get("type"), entry.get("id"))


def _typed(kind: object, raw: object) -> str | None:
    if not isinstance(kind, str) or not isinstance(raw, (str, int)) or isinstance(raw, bool):
        return None
    type_ = kind.strip().lower()
    value = str(raw).strip()
    if not _TYPE.match(type_) or not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        return None
    return f"{type_}:{value}"


def _from_trait(system: str | None, raw: object) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None
    text = str(raw).strip()
    normalize = _NORMALIZE.get(system or "")
    if not text or len(text) > MAX_ID_LENGTH or normalize is None:
        return None
    value = normalize(text)
    return f"{system}:{value}" if value else None


def _salesforce(text: str) -> str | None:
    return text if _SALESFORCE.match(text) else None


def _hubspot(text: str) -> str | None:
    return text if _HUBSPOT.match(text) else None


def _x(text: str) -> str | None:
    handle = re.sub(r"^(?:https?://)?(?:www\.)?(?:twitter|x)\.com/", "", text, flags=re.IGNORECASE)
    handle = handle.lstrip("@").split("/", 1)[0].split("?", 1)[0]
    return handle.lower() if _HANDLE.match(handle) else None


def _linkedin(text: str) -> str | None:
    match = re.match(r"^(?:https?://)?(?:[a-z]{2,3}\.)?linkedin\.com/in/([^/?#]+)", text, flags=re.IGNORECASE)
    slug = match.group(1) if match else text.removeprefix("in/")
    return slug.lower() if _LINKEDIN_SLUG.match(slug) else None


_NORMALIZE: dict[str, Callable[[str], str | None]] = {
    "salesforce": _salesforce,
    "hubspot": _hubspot,
    "x": _x,
    "linkedin": _linkedin,
}

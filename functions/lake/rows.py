"""Lake rows from what the streams carry: a tracking event, or a main-table write (old and new image).

Plain logic, no AWS. Each row is a dict with exactly the columns of its table (lake.schema) plus `day`,
values JSON-ready: timestamps as `yyyy-mm-dd hh:mm:ss.fff` (UTC; what Firehose's Hive JSON reader and
DuckDB both parse), amounts as numbers. Only ids and marketing tags leave this module: no email, name,
phone, IP, free text or full URL (docs/lake.md says why).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lake.schema import CHANGES, EVENTS, PARTITION, LakeTable
from leadstream.events import TrackedEvent
from leadstream.profiles import Profile

Row = dict[str, Any]

MAX_TEXT = 200  # longest tag kept (a page path, a campaign name); longer values are cut
CRM_KINDS = {"LEAD": "lead", "CONTACT": "contact", "DEAL": "deal", "ORDER": "order", "CONTRACT": "contract"}
SEND_MILESTONES = (
    ("sentAt", "sent"),
    ("openedAt", "opened"),
    ("clickedAt", "clicked"),
    ("convertedAt", "converted"),
)

EMAIL_MEDIA = frozenset({"email", "e-mail", "newsletter", "mail"})
PAID_MEDIA = frozenset(
    {
        "cpc",
        "ppc",
        "paid",
        "paidsearch",
        "paid-search",
        "paid_search",
        "display",
        "cpm",
        "paid-social",
        "paid_social",
        "paidsocial",
        "retargeting",
        "banner",
    }
)
SOCIAL_MEDIA = frozenset({"social", "social-network", "social-media", "sm", "organic-social"})
SOCIAL_HOSTS = (
    "facebook.",
    "instagram.",
    "linkedin.",
    "lnkd.in",
    "twitter.",
    "t.co",
    "x.com",
    "reddit.",
    "youtube.",
    "tiktok.",
    "pinterest.",
    "mastodon.",
)
SOCIAL_SOURCES = frozenset(
    {
        "facebook",
        "fb",
        "instagram",
        "linkedin",
        "twitter",
        "x",
        "reddit",
        "youtube",
        "tiktok",
        "pinterest",
        "mastodon",
        "threads",
        "bluesky",
    }
)
SEARCH_HOSTS = ("google.", "bing.", "duckduckgo.", "yahoo.", "baidu.", "yandex.", "ecosia.", "qwant.")


def stable_id(*parts: object) -> str:
    """A row id derived from what the row describes: the same fact always gets the same id."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def timestamp_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _complete(table: LakeTable, values: Mapping[str, Any], moment: datetime) -> Row:
    row: Row = dict.fromkeys(table.column_names)
    row.update({key: value for key, value in values.items() if key in row})
    row[PARTITION] = moment.astimezone(UTC).date().isoformat()
    return row


def _clean(value: object) -> str | None:
    """A tag as the lake keeps it: text, trimmed and cut; never anything that looks like an address."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    if not text or "@" in text:
        return None
    return text[:MAX_TEXT]


def _host(url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return _clean(host.lower()) if host else None


def _path(url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return None
    # A path segment with an address in it (/unsubscribe/jane@example.com) is dropped.
    segments = [segment for segment in path.split("/") if "@" not in segment and "%40" not in segment.lower()]
    return _clean("/".join(segments) or "/")


def _utm_from_url(url: object) -> dict[str, str]:
    if not isinstance(url, str) or "utm_" not in url:
        return {}
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    return {key: values[0] for key, values in query.items() if key.startswith("utm_") and values}


def channel_of(  # noqa: PLR0911  # one return per channel reads best
    medium: str | None, source: str | None, referrer_host: str | None, page_host: str | None
) -> str:
    """The channel of a touch, from its campaign tags first, else from where the visitor came from."""
    med = (medium or "").lower()
    src = (source or "").lower()
    ref = (referrer_host or "").lower()
    if med in EMAIL_MEDIA or src in EMAIL_MEDIA:
        return "email"
    if med in PAID_MEDIA:
        return "paid"
    if med in SOCIAL_MEDIA or src.removeprefix("www.").split(".")[0] in SOCIAL_SOURCES:
        return "social"
    if med in {"organic", "seo"}:
        return "search"
    if med or src:
        return "referral" if med == "referral" else "other"
    if ref and ref != (page_host or "").lower():
        if any(ref.startswith(host) or f".{host}" in ref for host in SEARCH_HOSTS):
            return "search"
        if any(ref.startswith(host) or f".{host}" in ref for host in SOCIAL_HOSTS):
            return "social"
        return "referral"
    return "direct"


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def event_row(event: TrackedEvent) -> Row:
    """The events row of one stored tracking event."""
    page: dict[str, Any] = _mapping(event.context.get("page"))
    props = event.properties
    url = page.get("url") or props.get("url")
    referrer = page.get("referrer") or props.get("referrer")
    campaign = _mapping(event.context.get("campaign"))
    from_url = _utm_from_url(url)
    utm = {
        "utm_source": _clean(campaign.get("source") or from_url.get("utm_source")),
        "utm_medium": _clean(campaign.get("medium") or from_url.get("utm_medium")),
        "utm_campaign": _clean(campaign.get("name") or from_url.get("utm_campaign")),
        "utm_content": _clean(campaign.get("content") or from_url.get("utm_content")),
    }
    page_host = _host(url)
    path_value = page.get("path") or props.get("path")
    page_path = _path(path_value) if isinstance(path_value, str) else _path(url)
    referrer_host = _host(referrer)
    external = referrer_host is not None and referrer_host != page_host
    touch = event.type in ("page", "screen") and (
        utm["utm_source"] is not None or utm["utm_medium"] is not None or external
    )
    identity = f"user:{event.user_id}" if event.user_id else f"anon:{event.anonymous_id}"
    values = {
        "event_id": stable_id("event", event.source_id, event.message_id),
        "source_id": event.source_id,
        "type": event.type,
        "event_name": _clean(event.event if event.type == "track" else event.name),
        "identity": identity,
        "anonymous_id": event.anonymous_id,
        "user_id": event.user_id,
        "occurred_at": timestamp_text(event.timestamp),
        "received_at": timestamp_text(event.received_at),
        "page_host": page_host,
        "page_path": page_path,
        "referrer_host": referrer_host,
        **utm,
        "touch": touch,
        "channel": channel_of(utm["utm_medium"], utm["utm_source"], referrer_host, page_host)
        if touch
        else None,
    }
    return _complete(EVENTS, values, event.timestamp)


# --- main-table changes -----------------------------------------------------------------------------------


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _amount(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= Decimal("1e16"):
        return None
    return float(round(number, 2))


def _version(image: Mapping[str, Any]) -> int:
    value = image.get("version", 0)
    return int(value) if isinstance(value, (int, Decimal)) else 0


def _actor(by: str | None) -> str | None:
    """Who moved a stage, without user ids: `sales:<userId>` becomes `sales`."""
    return _clean(by.split(":", 1)[0]) if by else None


def change_rows(
    keys: Mapping[str, Any], old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, at: datetime
) -> list[Row]:
    """The change rows of one main-table write (`at`: when the stream saw it). Items the lake does not
    keep (configuration, history entries, claims, timers ...) give none."""
    pk, sk = str(keys.get("pk", "")), str(keys.get("sk", ""))
    if sk == "PROFILE" and pk.startswith("PROFILE#"):
        return profile_rows(old, new, at)
    if sk in CRM_KINDS and pk.startswith(f"{sk}#"):
        return record_rows(CRM_KINDS[sk], pk.removeprefix(f"{sk}#"), old, new, at)
    if sk == "SEND" and pk.startswith("SEND#"):
        return send_rows(pk.removeprefix("SEND#"), old, new)
    return []


def profile_rows(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, at: datetime) -> list[Row]:
    if not new:
        return []
    before = Profile.model_validate(old) if old else None
    after = Profile.model_validate(new)
    pid = after.profile_id
    rows: list[Row] = []
    seen_stages = {(c.at, c.stage) for c in before.stage_history} if before else set()
    for change in after.stage_history:
        if (change.at, change.stage) in seen_stages:
            continue
        moment = _time(change.at) or at
        values = {
            "change_id": stable_id("stage", pid, change.at, change.stage.value),
            "kind": "stage",
            "at": timestamp_text(moment),
            "profile_id": pid,
            "stage": change.stage.value,
            "previous_stage": change.previous.value if change.previous else None,
            "changed_by": _actor(change.by),
        }
        rows.append(_complete(CHANGES, values, moment))
    known_before = {str(i) for i in before.identities} if before else set()
    for ident in after.identities:
        if ident.kind == "email" or str(ident) in known_before:
            continue  # an email is personal data: the lake never holds it
        values = {
            "change_id": stable_id("identity", pid, ident.kind, ident.value),
            "kind": "identity",
            "at": timestamp_text(at),
            "profile_id": pid,
            "identity": str(ident),
        }
        rows.append(_complete(CHANGES, values, at))
    if any(i.is_known for i in after.identities) and not (
        before and any(i.is_known for i in before.identities)
    ):
        values = {
            "change_id": stable_id("known", pid),
            "kind": "known",
            "at": timestamp_text(at),
            "profile_id": pid,
        }
        rows.append(_complete(CHANGES, values, at))
    if after.merged_into and not (before and before.merged_into):
        values = {
            "change_id": stable_id("merge", pid, after.merged_into),
            "kind": "merge",
            "at": timestamp_text(at),
            "profile_id": pid,
            "merged_into": after.merged_into,
        }
        rows.append(_complete(CHANGES, values, at))
    return rows


def record_rows(
    kind: str, record_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, at: datetime
) -> list[Row]:
    """One row per version of a CRM record; a deleted record gets a last row with status `deleted`."""
    image = new or old
    if not image:
        return []
    version = _version(image) + (0 if new else 1)
    if new and old and _version(new) == _version(old):
        return []  # not a new version (an index attribute moved): nothing the lake keeps changed
    moment = _time(image.get("updatedAt")) or at
    values: Row = {
        "change_id": stable_id(kind, record_id, version),
        "kind": kind,
        "at": timestamp_text(moment),
        "version": version,
        "contact_id": image.get("contactId"),
        "account_id": image.get("accountId"),
    }
    if kind == "lead":
        values |= {"lead_id": record_id, "profile_id": image.get("profileId"), "status": image.get("status")}
    elif kind == "contact":
        values |= {"contact_id": record_id, "profile_id": image.get("profileId"), "status": "active"}
    elif kind == "deal":
        closed = _time(image.get("closedAt"))
        values |= {
            "deal_id": record_id,
            "lead_id": image.get("leadId"),
            "status": image.get("outcome", "open"),
            "pipeline_stage": image.get("stageId"),
            "amount": _amount(image.get("amount")),
            "currency": image.get("currency"),
            "closed_at": timestamp_text(closed) if closed else None,
        }
    elif kind == "order":
        totals = _mapping(image.get("totals"))
        values |= {
            "order_id": record_id,
            "deal_id": image.get("dealId"),
            "contract_id": image.get("contractId"),
            "status": image.get("status"),
            "amount": _amount(totals.get("total")),
            "currency": image.get("currency"),
        }
    elif kind == "contract":
        end = image.get("endDate")
        values |= {
            "contract_id": record_id,
            "order_id": image.get("orderId"),
            "deal_id": image.get("renewalDealId"),
            "status": image.get("status"),
            "amount": _amount(image.get("value")),
            "currency": image.get("currency"),
            "end_date": date.fromisoformat(end).isoformat()
            if isinstance(end, str) and _is_date(end)
            else None,
        }
    if not new:
        values["status"] = "deleted"
        values["at"] = timestamp_text(at)
        moment = at
    return [
        _complete(CHANGES, {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}, moment)
    ]


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def send_rows(send_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Row]:
    """One row per milestone a send reached in this write (each milestone is set once)."""
    if not new or not new.get("profileId"):
        return []
    rows: list[Row] = []
    for attribute, milestone in SEND_MILESTONES:
        moment = _time(new.get(attribute))
        if moment is None or (old and old.get(attribute)):
            continue
        values = {
            "change_id": stable_id("send", send_id, milestone),
            "kind": "send",
            "at": timestamp_text(moment),
            "profile_id": new.get("profileId"),
            "send_id": send_id,
            "milestone": milestone,
            "campaign_id": new.get("campaignId"),
            "journey_id": new.get("journeyId"),
            "step_id": new.get("stepId"),
        }
        rows.append(_complete(CHANGES, values, moment))
    return rows

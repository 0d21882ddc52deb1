"""website's data access: the only code of website that talks to AWS (docs/data-model.md, "Website").

Items in the main table:

| item | pk | sk |
| --- | --- | --- |
| a document (form, page, asset, slot, pop-up), current version | `WEB#<kind>#<id>` | `DOC` |
| one of its versions (history) | `WEB#<kind>#<id>` | `V#<version, 6 digits>` |
| its counters (downloads, views, conversions per variant, impressions ...) | `WEB#<kind>#<id>` | `COUNTS` |
| a claim that one thing was counted once (TTL) | `WEB#<kind>#<id>` | `ONCE#<claim>` |
| a pop-up's impressions for one visitor (TTL: the cap's window) | `WEB#popup#<id>` | `SEEN#<anonymous id>` |
| a gated asset unlocked by a form, for one visitor (TTL 1 day) | `WEB#unlock#<anonymous id>` | `ASSET#<id>` |

GSI1 lists each kind: `gsi1pk = WEB#<kind>`, `gsi1sk = <id>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from pydantic import Field

from leadstream import clock
from leadstream.aws import dynamodb, s3
from leadstream.caches import TtlCache
from leadstream.errors import Conflict, PreconditionFailed
from leadstream.models import Model
from leadstream.settings import get_settings, load
from leadstream.store.dynamo import batch_get, deserialize, get_item, serialize
from website.models import Popup

DOC = "DOC"
COUNTS = "COUNTS"
COUNT_PREFIX = "n:"
UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 60
CLAIM_DAYS = 400
UNLOCK_SECONDS = 24 * 3600
MAX_CACHED = 2048

_documents: TtlCache[tuple[str, str, str], dict[str, Any] | None] = TtlCache(
    now=clock.now, max_entries=MAX_CACHED
)


_popups: TtlCache[str, list[Popup]] = TtlCache(now=clock.now, max_entries=16)


class WebsiteSettings(Model, frozen=True):
    assets_bucket: str = Field(alias="WEBSITE_ASSETS_BUCKET", default="")


def website_settings() -> WebsiteSettings:
    return load(WebsiteSettings)


def _table() -> str:
    return get_settings().main_table


def partition(kind: str, doc_id: str) -> str:
    return f"WEB#{kind}#{doc_id}"


def doc_key(kind: str, doc_id: str) -> dict[str, str]:
    return {"pk": partition(kind, doc_id), "sk": DOC}


# --- documents ---------------------------------------------------------------------------------------
def get_document(kind: str, doc_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
    return get_item(_table(), doc_key(kind, doc_id), consistent=consistent)


def cached_document(kind: str, doc_id: str) -> dict[str, Any] | None:
    """The document as read at most CONFIG_CACHE_SECONDS ago by this container (the public routes)."""
    settings = get_settings()
    table = settings.main_table
    return _documents.get(
        (table, kind, doc_id),
        lambda: get_item(table, doc_key(kind, doc_id)),
        max_age=settings.config_cache_seconds,
    )


def cached_documents(kind: str, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for doc_id in doc_ids:
        item = cached_document(kind, doc_id)
        if item is not None:
            found[doc_id] = item
    return found


def save_document(kind: str, doc_id: str, document: Mapping[str, Any], *, previous: int | None) -> None:
    """Write version `document["version"]` and its history item in one transaction: a create
    (`previous` None) only if the id is free, a change only if the stored version is still `previous`."""
    version = int(document["version"])
    current = {
        **doc_key(kind, doc_id),
        "gsi1pk": f"WEB#{kind}",
        "gsi1sk": doc_id,
        "kind": kind,
        **document,
    }
    history = {"pk": partition(kind, doc_id), "sk": f"V#{version:06d}", **document}
    if previous is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        condition = {
            "ConditionExpression": "version = :previous",
            "ExpressionAttributeValues": serialize({":previous": previous}),
        }
    items: list[Any] = [
        {"Put": {"TableName": _table(), "Item": serialize(current), **condition}},
        {"Put": {"TableName": _table(), "Item": serialize(history)}},
    ]
    client = dynamodb()
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException:
        if previous is None:
            raise Conflict(f"A {kind} with id {doc_id!r} exists already; choose another id.") from None
        raise PreconditionFailed(
            f"The {kind} {doc_id!r} changed since you read it; read it again and resend."
        ) from None
    _documents.discard((_table(), kind, doc_id))
    if kind == "popup":
        _popups.discard(_table())


def list_documents(kind: str, *, limit: int, start: str | None) -> tuple[list[dict[str, Any]], str | None]:
    request: dict[str, Any] = {
        "TableName": _table(),
        "IndexName": "GSI1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": serialize({":pk": f"WEB#{kind}"}),
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = serialize(
            {**doc_key(kind, start), "gsi1pk": f"WEB#{kind}", "gsi1sk": start}
        )
    response = dynamodb().query(**request)
    items = [deserialize(item) for item in response.get("Items", [])]
    last = response.get("LastEvaluatedKey")
    return items, (deserialize(last)["gsi1sk"] if last else None)


def cached_popups() -> list[Popup]:
    """Every pop-up, as listed at most CONFIG_CACHE_SECONDS ago by this container (one Query a period)."""
    settings = get_settings()

    def load() -> list[Popup]:
        items, start = list_documents("popup", limit=100, start=None)
        while start:
            more, start = list_documents("popup", limit=100, start=start)
            items.extend(more)
        return [Popup.model_validate(item) for item in items]

    return _popups.get(settings.main_table, load, max_age=settings.config_cache_seconds)


def get_version(kind: str, doc_id: str, version: int) -> dict[str, Any] | None:
    return get_item(_table(), {"pk": partition(kind, doc_id), "sk": f"V#{version:06d}"}, consistent=True)


# --- counters ----------------------------------------------------------------------------------------
def count_once(kind: str, doc_id: str, metrics: Sequence[str], claim: str) -> bool:
    """Add 1 to each of `metrics` of the document's counters, once per `claim` (a retried request or a
    second view by the same visitor counts nothing): one transaction. True when it counted."""
    expires = int((clock.now() + timedelta(days=CLAIM_DAYS)).timestamp())
    names = {f"#m{index}": f"{COUNT_PREFIX}{metric}" for index, metric in enumerate(metrics)}
    client = dynamodb()
    claim_item = {"pk": partition(kind, doc_id), "sk": f"ONCE#{claim}", "ttl": expires}
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": _table(),
                        "Item": serialize(claim_item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": _table(),
                        "Key": serialize({"pk": partition(kind, doc_id), "sk": COUNTS}),
                        "UpdateExpression": "ADD " + ", ".join(f"{name} :one" for name in names),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": serialize({":one": 1}),
                    }
                },
            ]
        )
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False  # counted before
        raise
    return True


def counts(kind: str, doc_id: str) -> dict[str, int]:
    """The document's counters by metric (absent: 0)."""
    item = get_item(_table(), {"pk": partition(kind, doc_id), "sk": COUNTS}, consistent=True) or {}
    return {
        key.removeprefix(COUNT_PREFIX): int(value)
        for key, value in item.items()
        if key.startswith(COUNT_PREFIX)
    }


# --- visitors ----------------------------------------------------------------------------------------
def seen_counts(popup_ids: Sequence[str], anonymous_id: str) -> dict[str, int]:
    """How often this visitor saw each pop-up within its cap window (one BatchGetItem)."""
    if not popup_ids:
        return {}
    now = int(clock.now().timestamp())
    items = batch_get(
        _table(),
        [{"pk": partition("popup", pid), "sk": f"SEEN#{anonymous_id}"} for pid in popup_ids],
        consistent=False,
    )
    return {
        item["pk"].split("#", 2)[2]: int(item.get("times", 0))
        for item in items
        if int(item.get("ttl", now + 1)) > now
    }


def add_seen(popup_id: str, anonymous_id: str, window_days: int) -> int:
    """One more impression of a pop-up for a visitor; the window starts at the first one."""
    expires = int((clock.now() + timedelta(days=window_days)).timestamp())
    response = dynamodb().update_item(
        TableName=_table(),
        Key=serialize({"pk": partition("popup", popup_id), "sk": f"SEEN#{anonymous_id}"}),
        UpdateExpression="ADD times :one SET #ttl = if_not_exists(#ttl, :ttl)",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues=serialize({":one": 1, ":ttl": expires}),
        ReturnValues="UPDATED_NEW",
    )
    return int(deserialize(response["Attributes"])["times"])


def unlock(asset_id: str, anonymous_id: str) -> None:
    expires = int(clock.now().timestamp()) + UNLOCK_SECONDS
    dynamodb().put_item(
        TableName=_table(),
        Item=serialize({**unlock_key(asset_id, anonymous_id), "ttl": expires}),
    )


def unlock_key(asset_id: str, anonymous_id: str) -> dict[str, str]:
    return {"pk": f"WEB#unlock#{anonymous_id}", "sk": f"ASSET#{asset_id}"}


def read_keys(wanted: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Items by key in one BatchGetItem (eventually consistent: a page view's read)."""
    return batch_get(_table(), wanted, consistent=False) if wanted else []


# --- files -------------------------------------------------------------------------------------------
def upload_form(object_key: str, content_type: str, size: int) -> dict[str, Any]:
    post = s3().generate_presigned_post(
        Bucket=website_settings().assets_bucket,
        Key=object_key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    return {"method": "POST", "url": post["url"], "fields": post["fields"]}


def download_url(object_key: str, *, file_name: str, content_type: str, disposition: str) -> str:
    url: str = s3().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": website_settings().assets_bucket,
            "Key": object_key,
            "ResponseContentDisposition": disposition,
            "ResponseContentType": content_type,
        },
        ExpiresIn=DOWNLOAD_URL_SECONDS,
    )
    return url

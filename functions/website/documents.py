"""The marketing side: create, change, publish and report on the website's documents. Each is versioned
(a change names the version it was based on); every template is checked in the sandbox when saved;
a form is registered with tracking, so `POST /forms/{formId}` takes it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from leadstream import clock
from leadstream.consents import TOPIC_PREFIX
from leadstream.errors import Conflict, InvalidInput, NotFound
from mail import topics as mail_topics
from tracking import logic as tracking
from tracking.sources import Form, FormConsent
from website import experiments, pages, store
from website import forms as web_forms
from website.models import (
    Asset,
    AssetContent,
    AssetCreate,
    AssetState,
    AssetVersion,
    BlockKind,
    FieldKind,
    FileInput,
    FormContent,
    FormCreate,
    Page,
    PageContent,
    PageCreate,
    PageTestReport,
    Popup,
    PopupContent,
    PopupCreate,
    Slot,
    SlotContent,
    SlotCreate,
    WebForm,
    dump,
)

KINDS: dict[str, type[BaseModel]] = {
    "form": WebForm,
    "page": Page,
    "asset": Asset,
    "slot": Slot,
    "popup": Popup,
}
ID_FIELDS = {"form": "formId", "page": "slug", "asset": "assetId", "slot": "slotId", "popup": "popupId"}


def _stamp(user: str) -> dict[str, Any]:
    return {"updatedAt": clock.now().isoformat(), "updatedBy": user}


def get(kind: str, doc_id: str) -> Any:
    item = store.get_document(kind, doc_id)
    if item is None:
        raise NotFound(f"There is no {kind} {doc_id!r}.")
    return KINDS[kind].model_validate(item)


def page_of(kind: str, *, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    items, next_id = store.list_documents(kind, limit=limit, start=cursor)
    return [KINDS[kind].model_validate(item) for item in items], next_id


def _save(kind: str, doc_id: str, document: dict[str, Any], previous: int | None) -> Any:
    store.save_document(kind, doc_id, document, previous=previous)
    return KINDS[kind].model_validate(document)


def _changed(kind: str, doc_id: str, check_version: Callable[[int], None]) -> Any:
    current = get(kind, doc_id)
    check_version(current.version)
    return current


# --- forms ---------------------------------------------------------------------------------------------
def _check_form(content: FormContent) -> None:
    source = tracking.source_of(content.source_id)
    if source is None:
        raise InvalidInput(
            f"There is no source {content.source_id!r}; create it first or use your website's source id.",
            errors=[{"field": "sourceId", "message": "no such source"}],
        )
    for index, one in enumerate(content.fields):
        purpose = one.consent_purpose if one.kind == FieldKind.CONSENT else ""
        if purpose.startswith(TOPIC_PREFIX):
            mail_topics.require_topic(purpose.removeprefix(TOPIC_PREFIX), f"fields.{index}.purpose")
    if content.redirect_url and not web_forms.redirect_allowed(content.redirect_url, source.allowed_origins):
        message = "a path on this site (/p/...) or an https URL of one of the source's allowed origins"
        raise InvalidInput(
            f"redirectUrl must be {message}.", errors=[{"field": "redirectUrl", "message": message}]
        )


def _register(form: WebForm) -> None:
    consents = [
        FormConsent(field=one.name, purpose=one.consent_purpose, text=one.label)
        for one in form.fields
        if one.kind == FieldKind.CONSENT
    ]
    tracking.register_form(
        Form(form_id=form.form_id, source_id=form.source_id, name=form.name, hand_raiser=form.hand_raiser,
             email_field=form.email_field.name, consents=consents)
    )  # fmt: skip


def create_form(body: FormCreate, user: str) -> WebForm:
    _check_form(body)
    document = {**dump(body), "version": 1, **_stamp(user)}
    form: WebForm = _save("form", body.form_id, document, None)
    _register(form)
    return form


def update_form(form_id: str, body: FormContent, check_version: Callable[[int], None], user: str) -> WebForm:
    current: WebForm = _changed("form", form_id, check_version)
    _check_form(body)
    document = {**dump(body), "formId": form_id, "version": current.version + 1, **_stamp(user)}
    form: WebForm = _save("form", form_id, document, current.version)
    _register(form)
    return form


# --- pages ---------------------------------------------------------------------------------------------
def _check_page(content: PageContent) -> None:
    pages.check_template("template", content.template)
    block_lists = [
        content.blocks,
        *(variant.blocks for variant in (content.test.variants if content.test else [])),
    ]
    for blocks in block_lists:
        for index, block in enumerate(blocks):
            if block.kind == BlockKind.TEXT:
                pages.check_template(f"blocks.{index}.html", block.html or "")


def create_page(body: PageCreate, user: str) -> Page:
    _check_page(body)
    document = {**dump(body), "version": 1, **_stamp(user)}
    page: Page = _save("page", body.slug, document, None)
    return page


def update_page(slug: str, body: PageContent, check_version: Callable[[int], None], user: str) -> Page:
    current: Page = _changed("page", slug, check_version)
    _check_page(body)
    document = {**dump(body), "slug": slug, "version": current.version + 1, **_stamp(user)}
    if current.published_version is not None:
        document["publishedVersion"] = current.published_version
        stored = store.get_document("page", slug) or {}
        document["published"] = stored.get("published")
    page: Page = _save("page", slug, document, current.version)
    return page


def publish_page(slug: str, check_version: Callable[[int], None] | None, user: str) -> Page:
    """Publish the current version: what /p/{slug} serves from now on. Its forms, assets and slots must
    exist (a missing one is a 422 naming it)."""
    current: Page = get("page", slug)
    if check_version:
        check_version(current.version)
    content = _content_of(current)
    missing = _missing_references(content)
    if missing:
        raise InvalidInput(
            "The page refers to things that do not exist; create them first.",
            errors=[{"field": where, "message": f"no {what}"} for where, what in missing],
        )
    stored = store.get_document("page", slug) or {}
    document = {**stored, "version": current.version + 1, "publishedVersion": current.version,
                "published": dump(content), **_stamp(user)}  # fmt: skip
    for key in ("pk", "sk", "gsi1pk", "gsi1sk", "kind"):
        document.pop(key, None)
    page: Page = _save("page", slug, document, current.version)
    return page


def unpublish_page(slug: str, check_version: Callable[[int], None] | None, user: str) -> Page:
    current: Page = get("page", slug)
    if check_version:
        check_version(current.version)
    if current.published_version is None:
        raise Conflict(f"The page {slug!r} is not published.")
    stored = store.get_document("page", slug) or {}
    document = {**stored, "version": current.version + 1, **_stamp(user)}
    for key in ("pk", "sk", "gsi1pk", "gsi1sk", "kind", "published", "publishedVersion"):
        document.pop(key, None)
    page: Page = _save("page", slug, document, current.version)
    return page


def _content_of(page: Page) -> PageContent:
    fields = {name: getattr(page, name) for name in PageContent.model_fields}
    return PageContent.model_validate(fields)


def _missing_references(content: PageContent) -> list[tuple[str, str]]:
    missing = []
    block_lists = [("blocks", content.blocks)]
    if content.test:
        block_lists += [(f"test.variants.{i}.blocks", v.blocks) for i, v in enumerate(content.test.variants)]
    for where, blocks in block_lists:
        for index, block in enumerate(blocks):
            ref = {BlockKind.FORM: ("form", block.form_id), BlockKind.ASSET: ("asset", block.asset_id),
                   BlockKind.SLOT: ("slot", block.slot_id)}.get(block.kind)  # fmt: skip
            if ref and ref[1] and store.get_document(ref[0], ref[1]) is None:
                missing.append((f"{where}.{index}", f"{ref[0]} {ref[1]!r}"))
    return missing


def page_version(slug: str, version: int) -> Page:
    item = store.get_version("page", slug, version)
    if item is None:
        raise NotFound(f"The page {slug!r} has no version {version}.")
    return Page.model_validate(item)


def test_report(slug: str) -> PageTestReport:
    page: Page = get("page", slug)
    stored = store.get_document("page", slug) or {}
    published = stored.get("published")
    content = PageContent.model_validate(published) if published else _content_of(page)
    if content.test is None:
        raise NotFound(f"The page {slug!r} has no A/B test.")
    return experiments.report(slug, content.test, store.counts("page", slug))


# --- assets --------------------------------------------------------------------------------------------
def object_key(asset_id: str, number: int) -> str:
    return f"assets/{asset_id}/{number}"


def _file(asset_id: str, number: int, file: FileInput) -> AssetVersion:
    return AssetVersion(
        number=number,
        file_name=file.file_name,
        content_type=file.content_type,
        size=file.size,
        object_key=object_key(asset_id, number),
        created_at=clock.now(),
    )


def _upload(version: AssetVersion) -> dict[str, Any]:
    return store.upload_form(version.object_key, version.content_type, version.size)


def create_asset(body: AssetCreate, user: str) -> tuple[Asset, dict[str, Any]]:
    first = _file(body.asset_id, 1, body.file)
    content = dump(body)
    content.pop("file", None)
    document = {**content, "version": 1, "state": AssetState.DRAFT.value, "files": [dump(first)],
                "currentFile": 1, **_stamp(user)}  # fmt: skip
    asset: Asset = _save("asset", body.asset_id, document, None)
    return asset, _upload(first)


def _asset_document(asset: Asset, user: str, **changes: Any) -> dict[str, Any]:
    return {**dump(asset), **changes, "version": asset.version + 1, **_stamp(user)}


def update_asset(asset_id: str, body: AssetContent, check_version: Callable[[int], None], user: str) -> Asset:
    current: Asset = _changed("asset", asset_id, check_version)
    document = _asset_document(current, user, **dump(body))
    for absent in ("gatedBy", "reviewBy", "expiresAt", "description"):
        if absent not in dump(body):
            document.pop(absent, None)
    asset: Asset = _save("asset", asset_id, document, current.version)
    return asset


def add_file(asset_id: str, file: FileInput, user: str) -> tuple[Asset, dict[str, Any]]:
    """A new version of the file: served from now on (the earlier ones are kept)."""
    current: Asset = get("asset", asset_id)
    if current.state == AssetState.ARCHIVED:
        raise Conflict(f"The asset {asset_id!r} is archived.")
    number = max(version.number for version in current.files) + 1
    version = _file(asset_id, number, file)
    document = _asset_document(current, user, files=[*(dump(f) for f in current.files), dump(version)],
                               currentFile=number)  # fmt: skip
    asset: Asset = _save("asset", asset_id, document, current.version)
    return asset, _upload(version)


TRANSITIONS = {
    AssetState.PUBLISHED: {AssetState.DRAFT, AssetState.PUBLISHED},
    AssetState.ARCHIVED: {AssetState.DRAFT, AssetState.PUBLISHED},
    AssetState.DRAFT: {AssetState.ARCHIVED},
}


def move_asset(
    asset_id: str, to: AssetState, check_version: Callable[[int], None] | None, user: str
) -> Asset:
    """draft → published → archived (and archived → draft to bring one back)."""
    current: Asset = get("asset", asset_id)
    if check_version:
        check_version(current.version)
    if current.state not in TRANSITIONS[to]:
        raise Conflict(f"An asset cannot go from {current.state.value} to {to.value}.")
    asset: Asset = _save("asset", asset_id, _asset_document(current, user, state=to.value), current.version)
    return asset


def asset_downloads(asset_id: str) -> int:
    return store.counts("asset", asset_id).get("downloads", 0)


# --- slots and pop-ups ---------------------------------------------------------------------------------
def _check_slot(content: SlotContent) -> None:
    if content.default_html:
        pages.check_template("defaultHtml", content.default_html)
    for index, variant in enumerate(content.variants):
        pages.check_template(f"variants.{index}.html", variant.html)


def create_slot(body: SlotCreate, user: str) -> Slot:
    _check_slot(body)
    slot: Slot = _save("slot", body.slot_id, {**dump(body), "version": 1, **_stamp(user)}, None)
    return slot


def update_slot(slot_id: str, body: SlotContent, check_version: Callable[[int], None], user: str) -> Slot:
    current: Slot = _changed("slot", slot_id, check_version)
    _check_slot(body)
    document = {**dump(body), "slotId": slot_id, "version": current.version + 1, **_stamp(user)}
    slot: Slot = _save("slot", slot_id, document, current.version)
    return slot


def _check_popup(content: PopupContent) -> None:
    if content.html:
        pages.check_template("html", content.html)
    if content.form_id and store.get_document("form", content.form_id) is None:
        raise InvalidInput(
            f"There is no form {content.form_id!r}.", errors=[{"field": "formId", "message": "no such form"}]
        )


def create_popup(body: PopupCreate, user: str) -> Popup:
    _check_popup(body)
    popup: Popup = _save("popup", body.popup_id, {**dump(body), "version": 1, **_stamp(user)}, None)
    return popup


def update_popup(popup_id: str, body: PopupContent, check_version: Callable[[int], None], user: str) -> Popup:
    current: Popup = _changed("popup", popup_id, check_version)
    _check_popup(body)
    document = {**dump(body), "popupId": popup_id, "version": current.version + 1, **_stamp(user)}
    popup: Popup = _save("popup", popup_id, document, current.version)
    return popup


def popup_report(popup_id: str) -> dict[str, Any]:
    get("popup", popup_id)
    counts = store.counts("popup", popup_id)
    impressions = counts.get("impressions", 0)
    return {
        "popupId": popup_id,
        "impressions": impressions,
        "clicks": counts.get("clicks", 0),
        "conversions": counts.get("conversions", 0),
        "clickRate": round(counts.get("clicks", 0) / impressions, 6) if impressions else 0.0,
        "conversionRate": round(counts.get("conversions", 0) / impressions, 6) if impressions else 0.0,
    }

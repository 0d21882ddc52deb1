"""Website routes of the marketing API: forms, landing pages (versions, publish, unpublish, the A/B
report), assets (presigned uploads, file versions, lifecycle, downloads), dynamic slots and pop-ups.
Every route needs the marketing or admin role. Thin: parse, call website.documents, shape the answer.

Documents are versioned: every answer with one carries its ETag, a change needs If-Match (428 without
it, 412 when stale), a create takes an Idempotency-Key; publish, unpublish and the asset lifecycle are
actions that check If-Match only when it is sent.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import ConfigDict, Field

from leadstream import clock
from leadstream.api import (
    CREATED_HEADERS,
    ETAG_HEADER,
    ActionIfMatch,
    Api,
    IdempotencyKey,
    IfMatch,
    ListParams,
    action_precondition,
    check_if_match,
    create_once,
    page_model,
    versioned_response,
)
from leadstream.auth import MARKETING
from leadstream.errors import BadRequest
from leadstream.models import Model
from leadstream.pagination import decode_cursor, encode_cursor
from website import documents
from website.models import (
    ID_PATTERN,
    Asset,
    AssetContent,
    AssetCreate,
    AssetState,
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
)

TAG = "website"
IdPath = Annotated[str, Path(pattern=ID_PATTERN, description="the document's id (its slug for a page)")]
FormPage = page_model(WebForm, "WebFormPage", "website forms")
PagePage = page_model(Page, "LandingPagePage", "landing pages")
AssetPage = page_model(Asset, "AssetPage", "assets")
SlotPage = page_model(Slot, "SlotPage", "dynamic slots")
PopupPage = page_model(Popup, "PopupPage", "pop-ups")


class AssetUploadForm(Model):
    """A presigned POST: send the file as the `file` field of a multipart form with these fields."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True)

    method: str
    url: str
    fields: dict[str, str]


class AssetDocument(Asset):
    downloads: int = 0
    review_due: bool = Field(default=False, alias="needsReview", description="its review-by date has come")
    served: bool = Field(default=False, alias="servable", description="published and not expired")


class AssetUpload(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True)

    asset: AssetDocument
    upload: AssetUploadForm


class PopupReport(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True)

    popup_id: str = Field(alias="popupId")
    impressions: int
    clicks: int
    conversions: int
    click_rate: float = Field(alias="clickRate")
    conversion_rate: float = Field(alias="conversionRate")


def _cursor(next_id: str | None) -> str | None:
    return encode_cursor({"id": {"S": next_id}}) if next_id else None


def _start(cursor: str | None) -> str | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    value = key.get("id", {}).get("S")
    if not isinstance(value, str):
        raise BadRequest("`cursor` is not one this API returned; pass `nextCursor` from the last page.")
    return value


def _asset_document(asset: Asset) -> AssetDocument:
    now = clock.now()
    return AssetDocument.model_validate(
        {
            **asset.model_dump(by_alias=True),
            "downloads": documents.asset_downloads(asset.asset_id),
            "needsReview": asset.needs_review(now),
            "servable": asset.servable(now),
        }
    )


def register(api: Api) -> None:
    _forms(api)
    _pages(api)
    _page_actions(api)
    _assets(api)
    _slots(api)
    _popups(api)


def _user(api: Api) -> str:
    return api.principal().user_id


def _forms(api: Api) -> None:
    base, one = "/marketing/forms", "/marketing/forms/<form_id>"

    @api.route("GET", base, policy=MARKETING, summary="List the website forms", tag=TAG, problems=[400])
    def list_forms(params: Annotated[ListParams, Query()]) -> FormPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        items, next_id = documents.page_of("form", limit=params.limit, cursor=_start(params.cursor))
        return FormPage(items=items, nextCursor=_cursor(next_id))

    @api.route(
        "POST", base, policy=MARKETING, tag=TAG, status_code=201, problems=[409], headers=CREATED_HEADERS,
        summary="Create a form: fields, validation, progressive profiling, thank-you or redirect",
    )  # fmt: skip
    def create_form(body: FormCreate, idempotency_key: IdempotencyKey = None) -> Response[WebForm]:
        def create(_new_id: str) -> dict[str, Any]:
            return documents.create_form(body, _user(api)).model_dump(mode="json", by_alias=True)

        document = create_once(
            api, resource="web-form", body=body, idempotency_key=idempotency_key, create=create
        )
        form = WebForm.model_validate(document)
        return versioned_response(form, form.version, status=201, location=f"{base}/{form.form_id}")

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a form", tag=TAG, problems=[404], headers=ETAG_HEADER
    )
    def get_form(form_id: IdPath) -> Response[WebForm]:
        form: WebForm = documents.get("form", form_id)
        return versioned_response(form, form.version)

    @api.route(
        "PUT", one, policy=MARKETING, tag=TAG, problems=[404, 412, 428], headers=ETAG_HEADER,
        summary="Change a form (If-Match required)",
    )  # fmt: skip
    def update_form(form_id: IdPath, body: FormContent, if_match: IfMatch = None) -> Response[WebForm]:
        form = documents.update_form(form_id, body, partial(check_if_match, if_match), _user(api))
        return versioned_response(form, form.version)


def _pages(api: Api) -> None:
    base, one = "/marketing/pages", "/marketing/pages/<slug>"

    @api.route("GET", base, policy=MARKETING, summary="List the landing pages", tag=TAG, problems=[400])
    def list_pages(params: Annotated[ListParams, Query()]) -> PagePage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        items, next_id = documents.page_of("page", limit=params.limit, cursor=_start(params.cursor))
        return PagePage(items=items, nextCursor=_cursor(next_id))

    @api.route(
        "POST", base, policy=MARKETING, tag=TAG, status_code=201, problems=[409], headers=CREATED_HEADERS,
        summary="Create a landing page (a draft until published)",
    )  # fmt: skip
    def create_page(body: PageCreate, idempotency_key: IdempotencyKey = None) -> Response[Page]:
        def create(_new_id: str) -> dict[str, Any]:
            return documents.create_page(body, _user(api)).model_dump(mode="json", by_alias=True)

        document = create_once(
            api, resource="web-page", body=body, idempotency_key=idempotency_key, create=create
        )
        page = Page.model_validate(document)
        return versioned_response(page, page.version, status=201, location=f"{base}/{page.slug}")

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a landing page (its latest version)", tag=TAG,
        problems=[404], headers=ETAG_HEADER,
    )  # fmt: skip
    def get_page(slug: IdPath) -> Response[Page]:
        page: Page = documents.get("page", slug)
        return versioned_response(page, page.version)

    @api.route(
        "PUT", one, policy=MARKETING, tag=TAG, problems=[404, 412, 428], headers=ETAG_HEADER,
        summary="Change a landing page (If-Match required); the published version stays until you publish",
    )  # fmt: skip
    def update_page(slug: IdPath, body: PageContent, if_match: IfMatch = None) -> Response[Page]:
        page = documents.update_page(slug, body, partial(check_if_match, if_match), _user(api))
        return versioned_response(page, page.version)

    @api.route(
        "GET", f"{one}/versions/<version>", policy=MARKETING, summary="One earlier version of a page",
        tag=TAG, problems=[404],
    )  # fmt: skip
    def get_page_version(
        slug: IdPath, version: Annotated[int, Path(ge=1, le=1_000_000, description="the version")]
    ) -> Page:
        return documents.page_version(slug, version)


def _page_actions(api: Api) -> None:
    one = "/marketing/pages/<slug>"

    @api.route(
        "POST", f"{one}/publish", policy=MARKETING, tag=TAG, problems=[404, 412], headers=ETAG_HEADER,
        summary="Publish the page's latest version at /p/{slug}",
    )  # fmt: skip
    def publish_page(slug: IdPath, if_match: ActionIfMatch = None) -> Response[Page]:
        page = documents.publish_page(slug, action_precondition(if_match), _user(api))
        return versioned_response(page, page.version)

    @api.route(
        "POST", f"{one}/unpublish", policy=MARKETING, tag=TAG, problems=[404, 409, 412], headers=ETAG_HEADER,
        summary="Take the page off /p/{slug}",
    )  # fmt: skip
    def unpublish_page(slug: IdPath, if_match: ActionIfMatch = None) -> Response[Page]:
        page = documents.unpublish_page(slug, action_precondition(if_match), _user(api))
        return versioned_response(page, page.version)

    @api.route(
        "GET", f"{one}/test", policy=MARKETING, tag=TAG, problems=[404],
        summary="The page's A/B test: views, conversions and rate per variant, and the winner if any",
    )  # fmt: skip
    def page_test_report(slug: IdPath) -> PageTestReport:
        return documents.test_report(slug)


def _assets(api: Api) -> None:
    base, one = "/marketing/assets", "/marketing/assets/<asset_id>"

    @api.route("GET", base, policy=MARKETING, summary="List the assets", tag=TAG, problems=[400])
    def list_assets(params: Annotated[ListParams, Query()]) -> AssetPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        items, next_id = documents.page_of("asset", limit=params.limit, cursor=_start(params.cursor))
        return AssetPage(items=items, nextCursor=_cursor(next_id))

    @api.route(
        "POST", base, policy=MARKETING, tag=TAG, status_code=201, problems=[409], headers=CREATED_HEADERS,
        summary="Create an asset (a draft) and get a presigned upload for its file",
    )  # fmt: skip
    def create_asset(body: AssetCreate) -> Response[AssetUpload]:
        asset, upload = documents.create_asset(body, _user(api))
        answer = AssetUpload(asset=_asset_document(asset), upload=AssetUploadForm.model_validate(upload))
        return versioned_response(answer, asset.version, status=201, location=f"{base}/{asset.asset_id}")

    @api.route(
        "GET", one, policy=MARKETING, summary="Get an asset with its download count", tag=TAG,
        problems=[404], headers=ETAG_HEADER,
    )  # fmt: skip
    def get_asset(asset_id: IdPath) -> Response[AssetDocument]:
        asset: Asset = documents.get("asset", asset_id)
        return versioned_response(_asset_document(asset), asset.version)

    @api.route(
        "PUT", one, policy=MARKETING, tag=TAG, problems=[404, 412, 428], headers=ETAG_HEADER,
        summary="Change an asset's title, description, gating, review-by date or expiry (If-Match required)",
    )  # fmt: skip
    def update_asset(
        asset_id: IdPath, body: AssetContent, if_match: IfMatch = None
    ) -> Response[AssetDocument]:
        asset = documents.update_asset(asset_id, body, partial(check_if_match, if_match), _user(api))
        return versioned_response(_asset_document(asset), asset.version)

    @api.route(
        "POST", f"{one}/files", policy=MARKETING, tag=TAG, status_code=201, problems=[404, 409],
        summary="A new version of the asset's file: a presigned upload; served once uploaded",
    )  # fmt: skip
    def add_asset_file(asset_id: IdPath, body: FileInput) -> Response[AssetUpload]:
        asset, upload = documents.add_file(asset_id, body, _user(api))
        answer = AssetUpload(asset=_asset_document(asset), upload=AssetUploadForm.model_validate(upload))
        return versioned_response(answer, asset.version, status=201)

    for action, state in (("publish", AssetState.PUBLISHED), ("archive", AssetState.ARCHIVED),
                          ("draft", AssetState.DRAFT)):  # fmt: skip
        _asset_action(api, one, action, state)


def _asset_action(api: Api, one: str, action: str, state: AssetState) -> None:
    @api.route(
        "POST", f"{one}/{action}", policy=MARKETING, tag=TAG, problems=[404, 409, 412], headers=ETAG_HEADER,
        summary=f"Move the asset to {state.value}", operation_id=f"{action}_asset",
    )  # fmt: skip
    def move(asset_id: IdPath, if_match: ActionIfMatch = None) -> Response[AssetDocument]:
        asset = documents.move_asset(asset_id, state, action_precondition(if_match), _user(api))
        return versioned_response(_asset_document(asset), asset.version)


def _slots(api: Api) -> None:
    base, one = "/marketing/slots", "/marketing/slots/<slot_id>"

    @api.route("GET", base, policy=MARKETING, summary="List the dynamic slots", tag=TAG, problems=[400])
    def list_slots(params: Annotated[ListParams, Query()]) -> SlotPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        items, next_id = documents.page_of("slot", limit=params.limit, cursor=_start(params.cursor))
        return SlotPage(items=items, nextCursor=_cursor(next_id))

    @api.route(
        "POST", base, policy=MARKETING, tag=TAG, status_code=201, problems=[409], headers=CREATED_HEADERS,
        summary="Create a dynamic slot: variants by segment, stage or tag, first match wins",
    )  # fmt: skip
    def create_slot(body: SlotCreate, idempotency_key: IdempotencyKey = None) -> Response[Slot]:
        def create(_new_id: str) -> dict[str, Any]:
            return documents.create_slot(body, _user(api)).model_dump(mode="json", by_alias=True)

        document = create_once(
            api, resource="web-slot", body=body, idempotency_key=idempotency_key, create=create
        )
        slot = Slot.model_validate(document)
        return versioned_response(slot, slot.version, status=201, location=f"{base}/{slot.slot_id}")

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a slot", tag=TAG, problems=[404], headers=ETAG_HEADER
    )
    def get_slot(slot_id: IdPath) -> Response[Slot]:
        slot: Slot = documents.get("slot", slot_id)
        return versioned_response(slot, slot.version)

    @api.route(
        "PUT", one, policy=MARKETING, tag=TAG, problems=[404, 412, 428], headers=ETAG_HEADER,
        summary="Change a slot (If-Match required)",
    )  # fmt: skip
    def update_slot(slot_id: IdPath, body: SlotContent, if_match: IfMatch = None) -> Response[Slot]:
        slot = documents.update_slot(slot_id, body, partial(check_if_match, if_match), _user(api))
        return versioned_response(slot, slot.version)


def _popups(api: Api) -> None:
    base, one = "/marketing/popups", "/marketing/popups/<popup_id>"

    @api.route("GET", base, policy=MARKETING, summary="List the pop-ups", tag=TAG, problems=[400])
    def list_popups(params: Annotated[ListParams, Query()]) -> PopupPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        items, next_id = documents.page_of("popup", limit=params.limit, cursor=_start(params.cursor))
        return PopupPage(items=items, nextCursor=_cursor(next_id))

    @api.route(
        "POST", base, policy=MARKETING, tag=TAG, status_code=201, problems=[409], headers=CREATED_HEADERS,
        summary="Create a pop-up: a form, a notice or a link; trigger, audience, frequency cap",
    )  # fmt: skip
    def create_popup(body: PopupCreate, idempotency_key: IdempotencyKey = None) -> Response[Popup]:
        def create(_new_id: str) -> dict[str, Any]:
            return documents.create_popup(body, _user(api)).model_dump(mode="json", by_alias=True)

        document = create_once(
            api, resource="web-popup", body=body, idempotency_key=idempotency_key, create=create
        )
        popup = Popup.model_validate(document)
        return versioned_response(popup, popup.version, status=201, location=f"{base}/{popup.popup_id}")

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a pop-up", tag=TAG, problems=[404], headers=ETAG_HEADER
    )
    def get_popup(popup_id: IdPath) -> Response[Popup]:
        popup: Popup = documents.get("popup", popup_id)
        return versioned_response(popup, popup.version)

    @api.route(
        "PUT", one, policy=MARKETING, tag=TAG, problems=[404, 412, 428], headers=ETAG_HEADER,
        summary="Change a pop-up (If-Match required)",
    )  # fmt: skip
    def update_popup(popup_id: IdPath, body: PopupContent, if_match: IfMatch = None) -> Response[Popup]:
        popup = documents.update_popup(popup_id, body, partial(check_if_match, if_match), _user(api))
        return versioned_response(popup, popup.version)

    @api.route(
        "GET", f"{one}/report", policy=MARKETING, tag=TAG, problems=[404],
        summary="A pop-up's impressions, clicks and conversions",
    )  # fmt: skip
    def popup_report(popup_id: IdPath) -> PopupReport:
        return PopupReport.model_validate(documents.popup_report(popup_id))

"""Campaign routes under /marketing/campaigns: drafts, sending (now or scheduled), cancelling, the report.
Every route needs the marketing or admin role. Thin: parse, call campaigns.launch, shape the answer.

Campaigns are versioned documents: every answer with one carries its ETag, a change or a delete needs
If-Match (428 without it, 412 when stale), and a create takes an Idempotency-Key. Send and cancel are
actions, as in the CRM: they check If-Match only when it is sent, because their own state machine
already refuses what must not happen twice (a second send resumes the first, a cancelled campaign
stays cancelled, a sent one cannot be cancelled).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from campaigns.launch import campaigns
from campaigns.models import (
    CAMPAIGN_ID_PATTERN,
    CampaignContent,
    CampaignDocument,
    CampaignReport,
    CampaignSummary,
    SendBody,
)
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
from leadstream.pagination import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from campaigns.launch import Campaigns
    from campaigns.models import Campaign

TAG = "campaigns"
CampaignIdPath = Annotated[str, Path(pattern=CAMPAIGN_ID_PATTERN, description="the campaign's id")]
CampaignPage = page_model(CampaignSummary, "CampaignPage", "campaigns")


def register(api: Api) -> None:
    _campaigns(api)
    _changes(api)
    _actions(api)


def _service() -> Campaigns:
    return campaigns()


def _document(campaign: Campaign, status: int = 200) -> Response[CampaignDocument]:
    return versioned_response(CampaignDocument.of(campaign), campaign.version, status=status)


def _campaigns(api: Api) -> None:
    base, one = "/marketing/campaigns", "/marketing/campaigns/<campaign_id>"

    @api.route(
        "GET", base, policy=MARKETING, summary="List the campaigns, last changed first", tag=TAG,
        problems=[400],
    )  # fmt: skip
    def list_campaigns(params: Annotated[ListParams, Query()]) -> CampaignPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        campaigns, last_key = _service().store.page(
            limit=params.limit, start_key=decode_cursor(params.cursor)
        )
        items = [CampaignSummary.of(campaign) for campaign in campaigns]
        return CampaignPage(items=items, nextCursor=encode_cursor(last_key))

    @api.route(
        "POST", base, policy=MARKETING, summary="Create a campaign (a draft)", tag=TAG, status_code=201,
        problems=[409], headers=CREATED_HEADERS,
    )  # fmt: skip
    def create_campaign(
        body: CampaignContent, idempotency_key: IdempotencyKey = None
    ) -> Response[CampaignDocument]:
        def create(new_id: str) -> dict[str, Any]:
            return _service().create(body, user=api.principal().user_id, new_id=new_id).to_json()

        document = create_once(
            api, resource="campaign", body=body, idempotency_key=idempotency_key, create=create
        )
        created = CampaignDocument.model_validate(document)
        return versioned_response(
            created, created.version, status=201, location=f"{base}/{created.campaign_id}"
        )

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a campaign", tag=TAG, problems=[404], headers=ETAG_HEADER
    )
    def get_campaign(campaign_id: CampaignIdPath) -> Response[CampaignDocument]:
        return _document(_service().get(campaign_id))

    @api.route(
        "GET", f"{one}/report", policy=MARKETING, tag=TAG, problems=[404],
        summary="A campaign's emails counted per variant and in total, and its A/B test",
    )  # fmt: skip
    def get_campaign_report(campaign_id: CampaignIdPath) -> CampaignReport:
        return _service().report(campaign_id)


def _changes(api: Api) -> None:
    one = "/marketing/campaigns/<campaign_id>"

    @api.route(
        "PUT", one, policy=MARKETING, tag=TAG, problems=[404, 409, 412, 428], headers=ETAG_HEADER,
        summary="Change a draft or scheduled campaign (If-Match required)",
    )  # fmt: skip
    def update_campaign(
        campaign_id: CampaignIdPath, body: CampaignContent, if_match: IfMatch = None
    ) -> Response[CampaignDocument]:
        changed = _service().update(
            campaign_id, body, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return _document(changed)

    @api.route(
        "DELETE", one, policy=MARKETING, tag=TAG, status_code=204, problems=[404, 409, 412, 428],
        summary="Delete a campaign that never started, or a cancelled one (If-Match required)",
    )  # fmt: skip
    def delete_campaign(campaign_id: CampaignIdPath, if_match: IfMatch = None) -> Response[None]:
        _service().delete(
            campaign_id, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return Response(status_code=204)


def _actions(api: Api) -> None:
    one = "/marketing/campaigns/<campaign_id>"

    @api.route(
        "POST", f"{one}/send", policy=MARKETING, tag=TAG, status_code=202, problems=[404, 409, 412],
        headers=ETAG_HEADER,
        summary="Send a campaign now, or at `at` (If-Match checked when sent; a repeat resumes the send)",
    )  # fmt: skip
    def send_campaign(
        campaign_id: CampaignIdPath, body: SendBody | None = None, if_match: ActionIfMatch = None
    ) -> Response[CampaignDocument]:
        sent = _service().send(
            campaign_id,
            body or SendBody(),
            user=api.principal().user_id,
            check_version=action_precondition(if_match),
        )
        return _document(sent, status=202)

    @api.route(
        "POST", f"{one}/cancel", policy=MARKETING, tag=TAG, problems=[404, 409, 412], headers=ETAG_HEADER,
        summary="Cancel a scheduled or started campaign (If-Match checked when sent)",
    )  # fmt: skip
    def cancel_campaign(
        campaign_id: CampaignIdPath, if_match: ActionIfMatch = None
    ) -> Response[CampaignDocument]:
        cancelled = _service().cancel(
            campaign_id, user=api.principal().user_id, check_version=action_precondition(if_match)
        )
        return _document(cancelled)

"""Campaign routes under /marketing/campaigns (a Router included by handlers/email_api.py). Thin: request in,
campaigns.launch out. Every route needs the marketing policy (marketing or admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadstream.routing import MarketingRequest, document_response, no_content

if TYPE_CHECKING:
    from campaigns.launch import Campaigns
    from campaigns.models import Campaign

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # its __init__ has no annotations
request = MarketingRequest(router)


def _campaigns() -> Campaigns:
    from campaigns.launch import campaigns

    return campaigns()


def _campaign_response(campaign: Campaign, status: int = 200) -> Response[str]:
    from campaigns.launch import etag

    location = f"/marketing/campaigns/{campaign.campaign_id}"
    return document_response(campaign.to_json(), etag=etag(campaign), status=status, location=location)


@router.get("/marketing/campaigns")
def list_campaigns() -> dict[str, Any]:
    from campaigns.launch import SUMMARY_FIELDS
    from leadstream.pagination import decode_cursor, encode_cursor, parse_limit

    request.caller()
    query = router.current_event.query_string_parameters or {}
    campaigns, last_key = _campaigns().store.page(
        limit=parse_limit(query.get("limit")), start_key=decode_cursor(query.get("cursor"))
    )
    summaries = [
        campaign.model_dump(by_alias=True, mode="json", include=set(SUMMARY_FIELDS), exclude_none=True)
        for campaign in campaigns
    ]
    return {"campaigns": summaries, "nextCursor": encode_cursor(last_key)}


@router.post("/marketing/campaigns")
def create_campaign() -> Response[str]:
    from campaigns.models import CampaignContent

    caller = request.caller()
    content = CampaignContent.model_validate(request.body())
    return _campaign_response(_campaigns().create(content, user=caller.user_id), status=201)


@router.get("/marketing/campaigns/<campaign_id>")
def get_campaign(campaign_id: str) -> Response[str]:
    request.caller()
    return _campaign_response(_campaigns().get(campaign_id))


@router.put("/marketing/campaigns/<campaign_id>")
def update_campaign(campaign_id: str) -> Response[str]:
    from campaigns.models import CampaignContent

    caller = request.caller()
    content = CampaignContent.model_validate(request.body())
    return _campaign_response(
        _campaigns().update(campaign_id, content, if_match=request.if_match(), user=caller.user_id)
    )


@router.delete("/marketing/campaigns/<campaign_id>")
def delete_campaign(campaign_id: str) -> Response[str]:
    caller = request.caller()
    _campaigns().delete(campaign_id, if_match=request.if_match(), user=caller.user_id)
    return no_content()


@router.post("/marketing/campaigns/<campaign_id>/send")
def send_campaign(campaign_id: str) -> Response[str]:
    from campaigns.launch import SendBody

    caller = request.caller()
    body = SendBody.model_validate(request.body() or {})
    return _campaign_response(_campaigns().send(campaign_id, body, user=caller.user_id), status=202)


@router.post("/marketing/campaigns/<campaign_id>/cancel")
def cancel_campaign(campaign_id: str) -> Response[str]:
    caller = request.caller()
    return _campaign_response(_campaigns().cancel(campaign_id, user=caller.user_id))


@router.get("/marketing/campaigns/<campaign_id>/report")
def campaign_report(campaign_id: str) -> dict[str, Any]:
    request.caller()
    return _campaigns().report(campaign_id)

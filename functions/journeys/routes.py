"""Journey routes under /marketing/journeys (a Router included by handlers/email_api.py). Thin: request in,
journeys.service out. Every route needs the marketing policy (marketing or admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadstream.routing import MarketingRequest, document_response, no_content

if TYPE_CHECKING:
    from journeys.models import Journey, JourneyVersion
    from journeys.service import Journeys

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
request = MarketingRequest(router)


def _journeys() -> Journeys:
    from journeys.service import Journeys

    return Journeys()


def _response(found: tuple[Journey, JourneyVersion], status: int = 200) -> Response[str]:
    from journeys.service import etag, journey_json

    journey, version = found
    location = f"/marketing/journeys/{journey.journey_id}"
    return document_response(
        journey_json(journey, version), etag=etag(version), status=status, location=location
    )


@router.get("/marketing/journeys")
def list_journeys() -> dict[str, Any]:
    from journeys.store import list_journeys as page
    from leadstream.pagination import decode_cursor, encode_cursor, parse_limit

    request.caller()
    journeys, last_key = page(
        limit=parse_limit(request.query().get("limit")),
        start_key=decode_cursor(request.query().get("cursor")),
    )
    return {"journeys": [journey.summary() for journey in journeys], "nextCursor": encode_cursor(last_key)}


@router.post("/marketing/journeys")
def create_journey() -> Response[str]:
    from journeys.models import JourneyDefinition

    caller = request.caller()
    definition = JourneyDefinition.model_validate(request.body())
    return _response(_journeys().create(definition, user=caller.user_id), status=201)


@router.get("/marketing/journeys/<journey_id>")
def get_journey(journey_id: str) -> Response[str]:
    request.caller()
    return _response(_journeys().get(journey_id, request.version()))


@router.put("/marketing/journeys/<journey_id>")
def update_journey(journey_id: str) -> Response[str]:
    from journeys.models import JourneyDefinition

    caller = request.caller()
    definition = JourneyDefinition.model_validate(request.body())
    if_match = router.current_event.headers.get("if-match")
    return _response(_journeys().update(journey_id, definition, if_match=if_match, user=caller.user_id))


@router.delete("/marketing/journeys/<journey_id>")
def archive_journey(journey_id: str) -> Response[str]:
    caller = request.caller()
    if_match = router.current_event.headers.get("if-match")
    _journeys().archive(journey_id, if_match=if_match, user=caller.user_id)
    return no_content()


@router.post("/marketing/journeys/<journey_id>/publish")
def publish_journey(journey_id: str) -> Response[str]:
    from journeys.service import PublishRequest

    caller = request.caller()
    publish = PublishRequest.model_validate(request.body())
    return _response(_journeys().publish(journey_id, publish.version, user=caller.user_id))


@router.post("/marketing/journeys/<journey_id>/pause")
def pause_journey(journey_id: str) -> dict[str, Any]:
    caller = request.caller()
    return _journeys().pause(journey_id, user=caller.user_id).summary()


@router.get("/marketing/journeys/<journey_id>/runs")
def list_runs(journey_id: str) -> dict[str, Any]:
    from leadstream.pagination import decode_cursor, encode_cursor, parse_limit

    request.caller()
    query = request.query()
    runs, last_key = _journeys().runs(
        journey_id,
        profile_id=query.get("profileId") or None,
        limit=parse_limit(query.get("limit")),
        start_key=decode_cursor(query.get("cursor")),
    )
    return {"runs": [run.to_json() for run in runs], "nextCursor": encode_cursor(last_key)}


@router.get("/marketing/journeys/<journey_id>/report")
def journey_report(journey_id: str) -> dict[str, Any]:
    request.caller()
    return _journeys().report(journey_id)

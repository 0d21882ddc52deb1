"""Journey routes under /marketing/journeys (a Router included by campaigns/api.py). Thin: request in,
journeys.service out. Every route needs the marketing policy (marketing or admin)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadstream.auth import MARKETING, Principal, principal_of

if TYPE_CHECKING:
    from journeys.service import Journeys
    from leadstream.journeys import Journey, JourneyVersion

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
JSON = "application/json"


def _caller() -> Principal:
    return principal_of(router.current_event.raw_event).require(MARKETING)


def _journeys() -> Journeys:
    from journeys.service import Journeys

    return Journeys()


def _body() -> Any:
    from leadstream.errors import BadRequest

    try:
        return json.loads(router.current_event.decoded_body or "null")
    except ValueError:
        raise BadRequest("The body is not JSON; send a JSON object.") from None


def _query() -> dict[str, str]:
    return router.current_event.query_string_parameters or {}


def _version(raw: str | None) -> int | None:
    from leadstream.errors import BadRequest

    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest("`version` must be a version number (1, 2, ...).")
    return int(raw)


def _response(found: tuple[Journey, JourneyVersion], status: int = 200) -> Response[str]:
    from journeys.service import etag, journey_json

    journey, version = found
    headers = {"ETag": etag(version)}
    if status == 201:
        headers["Location"] = f"/marketing/journeys/{journey.journey_id}"
    return Response(status, JSON, json.dumps(journey_json(journey, version)), headers=headers)


@router.get("/marketing/journeys")
def list_journeys() -> dict[str, Any]:
    from leadstream.pagination import decode_cursor, encode_cursor, parse_limit
    from leadstream.store.journeys import list_journeys as page

    _caller()
    journeys, last_key = page(
        limit=parse_limit(_query().get("limit")), start_key=decode_cursor(_query().get("cursor"))
    )
    return {"journeys": [journey.summary() for journey in journeys], "nextCursor": encode_cursor(last_key)}


@router.post("/marketing/journeys")
def create_journey() -> Response[str]:
    from leadstream.journeys import JourneyDefinition

    caller = _caller()
    definition = JourneyDefinition.model_validate(_body())
    return _response(_journeys().create(definition, user=caller.user_id), status=201)


@router.get("/marketing/journeys/<journey_id>")
def get_journey(journey_id: str) -> Response[str]:
    _caller()
    return _response(_journeys().get(journey_id, _version(_query().get("version"))))


@router.put("/marketing/journeys/<journey_id>")
def update_journey(journey_id: str) -> Response[str]:
    from leadstream.journeys import JourneyDefinition

    caller = _caller()
    definition = JourneyDefinition.model_validate(_body())
    if_match = router.current_event.headers.get("if-match")
    return _response(_journeys().update(journey_id, definition, if_match=if_match, user=caller.user_id))


@router.delete("/marketing/journeys/<journey_id>")
def archive_journey(journey_id: str) -> Response[str]:
    caller = _caller()
    if_match = router.current_event.headers.get("if-match")
    _journeys().archive(journey_id, if_match=if_match, user=caller.user_id)
    return Response(204, JSON, "")


@router.post("/marketing/journeys/<journey_id>/publish")
def publish_journey(journey_id: str) -> Response[str]:
    from journeys.service import PublishRequest

    caller = _caller()
    request = PublishRequest.model_validate(_body())
    return _response(_journeys().publish(journey_id, request.version, user=caller.user_id))


@router.post("/marketing/journeys/<journey_id>/pause")
def pause_journey(journey_id: str) -> dict[str, Any]:
    caller = _caller()
    return _journeys().pause(journey_id, user=caller.user_id).summary()


@router.get("/marketing/journeys/<journey_id>/runs")
def list_runs(journey_id: str) -> dict[str, Any]:
    from leadstream.pagination import decode_cursor, encode_cursor, parse_limit

    _caller()
    query = _query()
    runs, last_key = _journeys().runs(
        journey_id,
        profile_id=query.get("profileId") or None,
        limit=parse_limit(query.get("limit")),
        start_key=decode_cursor(query.get("cursor")),
    )
    return {"runs": [run.to_json() for run in runs], "nextCursor": encode_cursor(last_key)}


@router.get("/marketing/journeys/<journey_id>/report")
def journey_report(journey_id: str) -> dict[str, Any]:
    _caller()
    return _journeys().report(journey_id)

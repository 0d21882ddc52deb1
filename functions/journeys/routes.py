"""Journey routes under /marketing/journeys: definitions and their versions, publishing, pausing, runs and
the report. Every route needs the marketing or admin role. Thin: parse, call journeys.service, shape the
answer.

Journeys are versioned documents: every answer with one carries the ETag of the version it shows, a
change or an archive needs If-Match naming the latest version (428 without it, 412 when stale), a create
takes an Idempotency-Key, and `?version=n` reads an earlier version. Publish and pause are actions, as in
the CRM: they check If-Match only when it is sent (against the latest version), because they change
which version is live, not the versions, and their own state machine refuses what cannot be done (an
archived journey is never published, a journey that is not live is not paused).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import ConfigDict, Field

from journeys.models import (
    JOURNEY_ID_PATTERN,
    JourneyDefinition,
    JourneyDocument,
    JourneyReport,
    JourneySummary,
    PublishRequest,
    Run,
)
from journeys.service import Journeys
from journeys.store import list_journeys as page
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
from leadstream.models import Model
from leadstream.pagination import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from journeys.models import Journey, JourneyVersion
    from journeys.service import Journeys

TAG = "journeys"
JourneyIdPath = Annotated[str, Path(pattern=JOURNEY_ID_PATTERN, description="the journey's id")]
JourneyPage = page_model(JourneySummary, "JourneyPage", "journeys")
RunPage = page_model(Run, "RunPage", "a journey's runs")


class JourneyVersionQuery(Model):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, description="read this version (default: the latest)")


class RunQuery(ListParams):
    """A journey's runs, newest first, or (with `profileId`) one person's."""

    profile_id: str | None = Field(default=None, alias="profileId", min_length=1, max_length=200)


def register(api: Api) -> None:
    _journeys(api)
    _changes(api)
    _actions(api)
    _results(api)


def _service() -> Journeys:
    return Journeys()


def _document(found: tuple[Journey, JourneyVersion], status: int = 200) -> Response[JourneyDocument]:
    journey, version = found
    return versioned_response(JourneyDocument.of(journey, version), version.version, status=status)


def _journeys(api: Api) -> None:
    base, one = "/marketing/journeys", "/marketing/journeys/<journey_id>"

    @api.route(
        "GET", base, policy=MARKETING, summary="List the journeys that are not archived, last changed first",
        tag=TAG, problems=[400],
    )  # fmt: skip
    def list_journeys(params: Annotated[ListParams, Query()]) -> JourneyPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        journeys, last_key = page(limit=params.limit, start_key=decode_cursor(params.cursor))
        items = [JourneySummary.of(journey) for journey in journeys]
        return JourneyPage(items=items, nextCursor=encode_cursor(last_key))

    @api.route(
        "POST", base, policy=MARKETING, summary="Create a journey (a draft at version 1)", tag=TAG,
        status_code=201, problems=[409], headers=CREATED_HEADERS,
    )  # fmt: skip
    def create_journey(
        body: JourneyDefinition, idempotency_key: IdempotencyKey = None
    ) -> Response[JourneyDocument]:
        def create(new_id: str) -> dict[str, Any]:
            journey, version = _service().create(body, user=api.principal().user_id, new_id=new_id)
            return JourneyDocument.of(journey, version).model_dump(mode="json", by_alias=True)

        document = create_once(
            api, resource="journey", body=body, idempotency_key=idempotency_key, create=create
        )
        created = JourneyDocument.model_validate(document)
        return versioned_response(
            created, created.version, status=201, location=f"{base}/{created.journey_id}"
        )

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a journey: the latest version, or `version`", tag=TAG,
        problems=[404], headers=ETAG_HEADER,
    )  # fmt: skip
    def get_journey(
        journey_id: JourneyIdPath, params: Annotated[JourneyVersionQuery, Query()]
    ) -> Response[JourneyDocument]:
        api.refuse_unknown_parameters(JourneyVersionQuery)
        return _document(_service().get(journey_id, params.version))


def _changes(api: Api) -> None:
    one = "/marketing/journeys/<journey_id>"

    @api.route(
        "PUT", one, policy=MARKETING, tag=TAG, problems=[404, 412, 428], headers=ETAG_HEADER,
        summary="Change a journey: a new version (If-Match required; the live version stays live)",
    )  # fmt: skip
    def update_journey(
        journey_id: JourneyIdPath, body: JourneyDefinition, if_match: IfMatch = None
    ) -> Response[JourneyDocument]:
        changed = _service().update(
            journey_id, body, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return _document(changed)

    @api.route(
        "DELETE", one, policy=MARKETING, tag=TAG, status_code=204, problems=[404, 412, 428],
        summary="Archive a journey (If-Match required): nobody enters; runs exit at their next step",
    )  # fmt: skip
    def archive_journey(journey_id: JourneyIdPath, if_match: IfMatch = None) -> Response[None]:
        _service().archive(
            journey_id, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return Response(status_code=204)


def _actions(api: Api) -> None:
    one = "/marketing/journeys/<journey_id>"

    @api.route(
        "POST", f"{one}/publish", policy=MARKETING, tag=TAG, problems=[404, 409, 412], headers=ETAG_HEADER,
        summary="Make a saved version live (If-Match checked when sent)",
    )  # fmt: skip
    def publish_journey(
        journey_id: JourneyIdPath, body: PublishRequest, if_match: ActionIfMatch = None
    ) -> Response[JourneyDocument]:
        published = _service().publish(
            journey_id,
            body.version,
            user=api.principal().user_id,
            check_version=action_precondition(if_match),
        )
        return _document(published)

    @api.route(
        "POST", f"{one}/pause", policy=MARKETING, tag=TAG, problems=[404, 409, 412], headers=ETAG_HEADER,
        summary="Pause a live journey: nobody new enters (If-Match checked when sent)",
    )  # fmt: skip
    def pause_journey(journey_id: JourneyIdPath, if_match: ActionIfMatch = None) -> Response[JourneySummary]:
        paused = _service().pause(
            journey_id, user=api.principal().user_id, check_version=action_precondition(if_match)
        )
        return versioned_response(JourneySummary.of(paused), paused.latest_version)


def _results(api: Api) -> None:
    one = "/marketing/journeys/<journey_id>"

    @api.route(
        "GET", f"{one}/runs", policy=MARKETING, summary="A journey's runs, newest first (or one person's)",
        tag=TAG, problems=[400, 404],
    )  # fmt: skip
    def list_journey_runs(journey_id: JourneyIdPath, params: Annotated[RunQuery, Query()]) -> RunPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(RunQuery)
        runs, last_key = _service().runs(
            journey_id,
            profile_id=params.profile_id,
            limit=params.limit,
            start_key=decode_cursor(params.cursor),
        )
        return RunPage(items=runs, nextCursor=encode_cursor(last_key))

    @api.route(
        "GET", f"{one}/report", policy=MARKETING, tag=TAG, problems=[404],
        summary="Per step: runs that reached it, wait there and exited there, and its emails' counters",
    )  # fmt: skip
    def get_journey_report(journey_id: JourneyIdPath) -> JourneyReport:
        return _service().report(journey_id)

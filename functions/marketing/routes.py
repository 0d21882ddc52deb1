"""The marketing API's profile routes (under /marketing): profiles by score, stage, tag or email, one
profile with its handoffs, its events, and moving its stage by hand. Every route needs the marketing or
admin role; moving a stage back needs admin. Thin: parse, call the store or the stage function, shape
the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import Field, StringConstraints

from leadstream import clock
from leadstream.api import Api, ListParams, page_model
from leadstream.auth import MARKETING, Role
from leadstream.errors import BadRequest, NotFound
from leadstream.scores import Stage
from leadstream.store.profiles import get_profile as load_profile
from leadstream.store.profiles import live_profile
from marketing import store as profile_lists
from marketing.models import EventView, ProfileDetail, ProfileSummary, StageRequest
from scoring.handoff import handoffs_of
from scoring.stages import change_stage
from tracking.logic import profile_timeline as events_of

TAG = "profiles"
ProfileIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,200}$", description="the profile's id")]
ProfilePage = page_model(ProfileSummary, "ProfilePage", "profiles")
EventPage = page_model(EventView, "EventPage", "a person's events")


class ProfileQuery(ListParams):
    """Find by `email`, list by `stage` or `tag`, or (none of them) the top profiles by current score."""

    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    stage: Stage | None = None
    tag: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=100)] | None = (
        Field(default=None)
    )


def register(api: Api, *, revenue_of: Callable[[str], dict[str, str]] | None = None) -> None:
    """The profile routes; `revenue_of(profileId)` (given by the handler, from the closed loop) adds the
    person's realized revenue to the 360° view."""

    @api.route(
        "GET", "/marketing/profiles", policy=MARKETING, summary="List profiles", tag=TAG, problems=[400]
    )
    def list_profiles(params: Annotated[ProfileQuery, Query()]) -> ProfilePage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ProfileQuery)
        given = [name for name in ("email", "stage", "tag") if getattr(params, name)]
        if len(given) > 1:
            raise BadRequest(f"Filter by one of email, stage or tag, not {' and '.join(given)}.")
        next_cursor = None
        if params.email:
            found = profile_lists.by_email(params.email)
            profiles = [found] if found else []
        elif params.stage:
            profiles, next_cursor = profile_lists.by_stage(
                params.stage.value, limit=params.limit, cursor=params.cursor
            )
        elif params.tag:
            profiles, next_cursor = profile_lists.by_tag(params.tag, limit=params.limit, cursor=params.cursor)
        else:
            profiles, next_cursor = profile_lists.top_by_score(limit=params.limit, cursor=params.cursor)
        now = clock.now()
        return ProfilePage(items=[ProfileSummary.of(p, now) for p in profiles], nextCursor=next_cursor)

    @api.route(
        "GET", "/marketing/profiles/<profile_id>", policy=MARKETING, summary="Get a profile", tag=TAG,
        problems=[404],
    )  # fmt: skip
    def get_profile(profile_id: ProfileIdPath) -> ProfileDetail:
        profile = load_profile(profile_id)
        if profile is None:
            raise NotFound(f"There is no profile {profile_id}.")
        detail = ProfileDetail.full(profile, handoffs_of(profile_id), clock.now())
        revenue = revenue_of(profile_id) if revenue_of else None
        return detail.model_copy(update={"revenue": revenue}) if revenue else detail

    @api.route(
        "GET",
        "/marketing/profiles/<profile_id>/events",
        policy=MARKETING,
        summary="A person's events, newest first (all their identities, across merges)",
        tag=TAG,
        problems=[400, 404],
    )
    def profile_events(profile_id: ProfileIdPath, params: Annotated[ListParams, Query()]) -> EventPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        profile = live_profile(profile_id)
        if profile is None:
            raise NotFound(f"There is no profile {profile_id}.")
        events, next_cursor = events_of(profile.identities, limit=params.limit, cursor=params.cursor)
        return EventPage(items=[EventView.of(event) for event in events], nextCursor=next_cursor)

    @api.route(
        "PUT",
        "/marketing/profiles/<profile_id>/stage",
        policy=MARKETING,
        summary="Move a profile's lifecycle stage: forward for marketing, either way for admin",
        tag=TAG,
        problems=[404, 409],
    )
    def set_stage(profile_id: ProfileIdPath, body: StageRequest) -> ProfileSummary:
        caller = api.principal()
        profile = change_stage(
            profile_id,
            body.stage,
            by=f"{'admin' if caller.has(Role.ADMIN) else 'marketing'}:{caller.user_id}",
            reason=body.reason,
            allow_backward=caller.has(Role.ADMIN),
        )
        return ProfileSummary.of(profile, clock.now())

"""The marketing API's profile routes (under /marketing): profiles by score, stage, tag or email, one
profile with its handoffs, its events, and moving its stage by hand. Every route needs the marketing or
admin role (leadstream.auth.MARKETING); moving a stage back needs admin. Thin: parse, call the store or
the stage function, shape the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadstream.auth import Role
from leadstream.errors import BadRequest, NotFound
from leadstream.pagination import parse_limit
from leadstream.routing import MarketingRequest

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
request = MarketingRequest(router)


# --- profiles ---------------------------------------------------------------------------------------------
@router.get("/marketing/profiles")
def list_profiles() -> dict[str, Any]:
    """Find by `email`, list by `stage` or `tag`, or (default) the top by current score."""
    from marketing import store as profile_lists
    from marketing.models import ProfileSummary

    request.caller()
    query = request.query()
    limit, cursor = parse_limit(query.get("limit")), query.get("cursor")
    given = [name for name in ("email", "stage", "tag") if query.get(name)]
    if len(given) > 1:
        raise BadRequest(f"Filter by one of email, stage or tag, not {' and '.join(given)}.")
    next_cursor = None
    if "email" in given:
        found = profile_lists.by_email(query["email"])
        profiles = [found] if found else []
    elif "stage" in given:
        profiles, next_cursor = profile_lists.by_stage(
            _stage(query["stage"]).value, limit=limit, cursor=cursor
        )
    elif "tag" in given:
        profiles, next_cursor = profile_lists.by_tag(query["tag"].strip().lower(), limit=limit, cursor=cursor)
    else:
        profiles, next_cursor = profile_lists.top_by_score(limit=limit, cursor=cursor)
    now = datetime.now(UTC)
    return {
        "items": [ProfileSummary.of(profile, now).model_dump(mode="json") for profile in profiles],
        "nextCursor": next_cursor,
    }


@router.get("/marketing/profiles/<profile_id>")
def get_profile(profile_id: str) -> dict[str, Any]:
    from leadstream.store.profiles import get_profile as load
    from marketing.models import ProfileDetail
    from scoring.store.handoffs import records_of

    request.caller()
    profile = load(profile_id)
    if profile is None:
        raise NotFound(f"There is no profile {profile_id}.")
    return ProfileDetail.full(profile, records_of(profile_id), datetime.now(UTC)).model_dump(mode="json")


@router.get("/marketing/profiles/<profile_id>/events")
def profile_events(profile_id: str) -> dict[str, Any]:
    """The person's events, newest first (all their identities, across merges)."""
    from leadstream.store.profiles import live_profile
    from marketing.models import EventView
    from tracking.store.timeline import profile_events as page_of

    request.caller()
    profile = live_profile(profile_id)
    if profile is None:
        raise NotFound(f"There is no profile {profile_id}.")
    query = request.query()
    events, next_cursor = page_of(
        profile.identities, limit=parse_limit(query.get("limit")), cursor=query.get("cursor")
    )
    return {
        "items": [EventView.of(event).model_dump(mode="json") for event in events],
        "nextCursor": next_cursor,
    }


@router.put("/marketing/profiles/<profile_id>/stage")
def set_stage(profile_id: str) -> dict[str, Any]:
    """Move a profile's lifecycle stage: forward for marketing, either way for admin."""
    from marketing.models import ProfileSummary, StageRequest
    from scoring.stages import change_stage

    caller = request.caller()
    wanted = StageRequest.model_validate(request.body())
    profile = change_stage(
        profile_id,
        wanted.stage,
        by=f"{'admin' if caller.has(Role.ADMIN) else 'marketing'}:{caller.user_id}",
        reason=wanted.reason,
        allow_backward=caller.has(Role.ADMIN),
    )
    return ProfileSummary.of(profile, datetime.now(UTC)).model_dump(mode="json")


# --- shared -----------------------------------------------------------------------------------------------
def _stage(value: str) -> Any:
    from leadstream.scores import Stage

    try:
        return Stage(value.strip().lower())
    except ValueError:
        stages = ", ".join(stage.value for stage in Stage)
        raise BadRequest(f"Unknown stage {value!r}; use one of {stages}.") from None


def _dump(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(by_alias=True, mode="json")
    return dumped

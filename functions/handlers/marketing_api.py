"""The marketing API (routes under /marketing): profiles and their timelines, scoring and assignment rules,
scoring settings. Every route needs the marketing or admin role (leadstream.auth.MARKETING); moving a
profile's stage back needs admin. Thin: parse, call the store or lifecycle function, shape the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

from leadstream.auth import Role
from leadstream.errors import BadRequest, NotFound
from leadstream.http import create_resolver
from leadstream.pagination import parse_limit
from leadstream.routing import MarketingRequest, document_response
from leadstream.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
app = create_resolver(allowed_origins=get_settings().allowed_origins)
request = MarketingRequest(app)


# --- profiles ---------------------------------------------------------------------------------------------
@app.get("/marketing/profiles")
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


@app.get("/marketing/profiles/<profile_id>")
def get_profile(profile_id: str) -> dict[str, Any]:
    from leadstream.store.profiles import get_profile as load
    from marketing.models import ProfileDetail
    from scoring.store.handoffs import records_of

    request.caller()
    profile = load(profile_id)
    if profile is None:
        raise NotFound(f"There is no profile {profile_id}.")
    return ProfileDetail.full(profile, records_of(profile_id), datetime.now(UTC)).model_dump(mode="json")


@app.get("/marketing/profiles/<profile_id>/events")
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


@app.put("/marketing/profiles/<profile_id>/stage")
def set_stage(profile_id: str) -> dict[str, Any]:
    """Move a profile's lifecycle stage: forward for marketing, either way for admin."""
    from crm.lifecycle import change_stage
    from marketing.models import ProfileSummary, StageRequest

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


# --- scoring rules ----------------------------------------------------------------------------------------
@app.get("/marketing/scoring-rules")
def list_scoring_rules() -> dict[str, Any]:
    from scoring.store.config import load_config

    request.caller()
    config = load_config()
    return {"items": [_dump(rule) for rule in (*config.engagement, *config.fit)]}


@app.post("/marketing/scoring-rules")
def create_scoring_rule() -> Response[str]:
    from scoring.store.config import save_rule

    caller = request.caller()
    rule = _scoring_rule(request.body())
    save_rule(rule, by=caller.user_id, create=True)
    return document_response(_dump(rule), status=201, location=f"/marketing/scoring-rules/{rule.rule_id}")


@app.get("/marketing/scoring-rules/<rule_id>")
def get_scoring_rule(rule_id: str) -> dict[str, Any]:
    from scoring.store.config import get_rule

    request.caller()
    return _dump(get_rule(rule_id))


@app.put("/marketing/scoring-rules/<rule_id>")
def replace_scoring_rule(rule_id: str) -> dict[str, Any]:
    from scoring.store.config import save_rule

    caller = request.caller()
    rule = _scoring_rule(_with_id(request.body(), rule_id))
    save_rule(rule, by=caller.user_id, create=False)
    return _dump(rule)


@app.delete("/marketing/scoring-rules/<rule_id>")
def delete_scoring_rule(rule_id: str) -> Response[str]:
    from scoring.store.config import delete_rule

    request.caller()
    delete_rule(rule_id)
    return Response(status_code=204, body="")


# --- assignment rules -------------------------------------------------------------------------------------
@app.get("/marketing/assignment-rules")
def list_assignment_rules() -> dict[str, Any]:
    from scoring.store.config import load_config

    request.caller()
    rules = sorted(load_config().assignment, key=lambda rule: (rule.priority, rule.rule_id))
    return {"items": [_dump(rule) for rule in rules]}


@app.post("/marketing/assignment-rules")
def create_assignment_rule() -> Response[str]:
    from scoring.rules import AssignmentRule
    from scoring.store.config import save_assignment_rule

    caller = request.caller()
    rule = AssignmentRule.model_validate(request.body())
    save_assignment_rule(rule, by=caller.user_id, create=True)
    return document_response(_dump(rule), status=201, location=f"/marketing/assignment-rules/{rule.rule_id}")


@app.get("/marketing/assignment-rules/<rule_id>")
def get_assignment_rule(rule_id: str) -> dict[str, Any]:
    from scoring.store.config import get_assignment_rule as load

    request.caller()
    return _dump(load(rule_id))


@app.put("/marketing/assignment-rules/<rule_id>")
def replace_assignment_rule(rule_id: str) -> dict[str, Any]:
    from scoring.rules import AssignmentRule
    from scoring.store.config import save_assignment_rule

    caller = request.caller()
    rule = AssignmentRule.model_validate(_with_id(request.body(), rule_id))
    save_assignment_rule(rule, by=caller.user_id, create=False)
    return _dump(rule)


@app.delete("/marketing/assignment-rules/<rule_id>")
def delete_assignment_rule(rule_id: str) -> Response[str]:
    from scoring.store.config import delete_assignment_rule as delete

    request.caller()
    delete(rule_id)
    return Response(status_code=204, body="")


# --- settings ---------------------------------------------------------------------------------------------
@app.get("/marketing/scoring-settings")
def get_scoring_settings() -> dict[str, Any]:
    from scoring.store.config import load_config

    request.caller()
    return _dump(load_config().settings)


@app.put("/marketing/scoring-settings")
def replace_scoring_settings() -> dict[str, Any]:
    from scoring.rules import ScoringSettings
    from scoring.store.config import save_settings

    caller = request.caller()
    settings = ScoringSettings.model_validate(request.body())
    save_settings(settings, by=caller.user_id)
    return _dump(settings)


# --- shared -----------------------------------------------------------------------------------------------
def _with_id(body: Any, rule_id: str) -> Any:
    if not isinstance(body, dict):
        return body  # validation says what is wrong
    given = body.get("ruleId")
    if given is not None and given != rule_id:
        raise BadRequest(
            f"The body's ruleId {given!r} differs from the URL's {rule_id!r}; rule ids do not change."
        )
    return {**body, "ruleId": rule_id}


def _scoring_rule(body: Any) -> Any:
    from pydantic import TypeAdapter

    from scoring.rules import ScoringRule

    if isinstance(body, dict) and "kind" not in body:
        body = {**body, "kind": "engagement"}
    return TypeAdapter(ScoringRule).validate_python(body)


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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

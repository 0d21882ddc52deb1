"""Scoring configuration routes under /marketing: scoring rules, assignment rules and scoring settings.
Every route needs the marketing or admin role (leadstream.auth.MARKETING). Thin: parse, call the
configuration store, shape the answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadstream.errors import BadRequest
from leadstream.routing import MarketingRequest, document_response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
request = MarketingRequest(router)


# --- scoring rules ----------------------------------------------------------------------------------------
@router.get("/marketing/scoring-rules")
def list_scoring_rules() -> dict[str, Any]:
    from scoring.store.config import load_config

    request.caller()
    config = load_config()
    return {"items": [_dump(rule) for rule in (*config.engagement, *config.fit)]}


@router.post("/marketing/scoring-rules")
def create_scoring_rule() -> Response[str]:
    from scoring.store.config import save_rule

    caller = request.caller()
    rule = _scoring_rule(request.body())
    save_rule(rule, by=caller.user_id, create=True)
    return document_response(_dump(rule), status=201, location=f"/marketing/scoring-rules/{rule.rule_id}")


@router.get("/marketing/scoring-rules/<rule_id>")
def get_scoring_rule(rule_id: str) -> dict[str, Any]:
    from scoring.store.config import get_rule

    request.caller()
    return _dump(get_rule(rule_id))


@router.put("/marketing/scoring-rules/<rule_id>")
def replace_scoring_rule(rule_id: str) -> dict[str, Any]:
    from scoring.store.config import save_rule

    caller = request.caller()
    rule = _scoring_rule(_with_id(request.body(), rule_id))
    save_rule(rule, by=caller.user_id, create=False)
    return _dump(rule)


@router.delete("/marketing/scoring-rules/<rule_id>")
def delete_scoring_rule(rule_id: str) -> Response[str]:
    from scoring.store.config import delete_rule

    request.caller()
    delete_rule(rule_id)
    return Response(status_code=204, body="")


# --- assignment rules -------------------------------------------------------------------------------------
@router.get("/marketing/assignment-rules")
def list_assignment_rules() -> dict[str, Any]:
    from scoring.store.config import load_config

    request.caller()
    rules = sorted(load_config().assignment, key=lambda rule: (rule.priority, rule.rule_id))
    return {"items": [_dump(rule) for rule in rules]}


@router.post("/marketing/assignment-rules")
def create_assignment_rule() -> Response[str]:
    from scoring.rules import AssignmentRule
    from scoring.store.config import save_assignment_rule

    caller = request.caller()
    rule = AssignmentRule.model_validate(request.body())
    save_assignment_rule(rule, by=caller.user_id, create=True)
    return document_response(_dump(rule), status=201, location=f"/marketing/assignment-rules/{rule.rule_id}")


@router.get("/marketing/assignment-rules/<rule_id>")
def get_assignment_rule(rule_id: str) -> dict[str, Any]:
    from scoring.store.config import get_assignment_rule as load

    request.caller()
    return _dump(load(rule_id))


@router.put("/marketing/assignment-rules/<rule_id>")
def replace_assignment_rule(rule_id: str) -> dict[str, Any]:
    from scoring.rules import AssignmentRule
    from scoring.store.config import save_assignment_rule

    caller = request.caller()
    rule = AssignmentRule.model_validate(_with_id(request.body(), rule_id))
    save_assignment_rule(rule, by=caller.user_id, create=False)
    return _dump(rule)


@router.delete("/marketing/assignment-rules/<rule_id>")
def delete_assignment_rule(rule_id: str) -> Response[str]:
    from scoring.store.config import delete_assignment_rule as delete

    request.caller()
    delete(rule_id)
    return Response(status_code=204, body="")


# --- settings ---------------------------------------------------------------------------------------------
@router.get("/marketing/scoring-settings")
def get_scoring_settings() -> dict[str, Any]:
    from scoring.store.config import load_config

    request.caller()
    return _dump(load_config().settings)


@router.put("/marketing/scoring-settings")
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


def _dump(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(by_alias=True, mode="json")
    return dumped

"""Scoring configuration routes under /marketing: scoring rules, assignment rules and scoring settings.
Every route needs the marketing or admin role. Thin: parse, call the configuration store, shape the answer.

Rules are small documents with ids their authors choose (`webinar`, `emea-owner`): a create is refused
(409) when the id is taken, a PUT replaces the whole rule, and a create with an Idempotency-Key returns
its first answer again. They carry no version (no ETag): the configuration is edited by a few people,
rarely, one rule at a time, and every write is logged with who made it.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from leadstream.api import Api, IdempotencyKey, create_once
from leadstream.auth import MARKETING
from leadstream.errors import BadRequest
from leadstream.http import JSON
from leadstream.models import Model
from scoring.rules import AssignmentRule, EngagementRule, FitRule, ScoringSettings
from scoring.store import config

TAG = "scoring"
RuleIdPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="the rule's id")]


def _engagement_by_default(value: Any) -> Any:
    """A rule without `kind` is an engagement rule (the common case)."""
    if isinstance(value, dict) and "kind" not in value:
        return {**value, "kind": "engagement"}
    return value


ScoringRule = Annotated[
    Annotated[EngagementRule | FitRule, Field(discriminator="kind")],
    BeforeValidator(_engagement_by_default),
    Body(),
]


class ScoringRules(Model):
    """Every scoring rule (engagement, then fit): the configuration is small and read whole."""

    model_config = ConfigDict(populate_by_name=True)

    items: list[Annotated[EngagementRule | FitRule, Field(discriminator="kind")]]
    next_cursor: None = Field(default=None, alias="nextCursor", description="always null: one page")


class AssignmentRules(Model):
    """Every assignment rule, lowest priority first."""

    model_config = ConfigDict(populate_by_name=True)

    items: list[AssignmentRule]
    next_cursor: None = Field(default=None, alias="nextCursor", description="always null: one page")


def register(api: Api) -> None:
    _scoring_rules(api)
    _assignment_rules(api)
    _settings(api)


def _scoring_rules(api: Api) -> None:
    base, one = "/marketing/scoring-rules", "/marketing/scoring-rules/<rule_id>"

    @api.route("GET", base, policy=MARKETING, summary="List the scoring rules", tag=TAG)
    def list_scoring_rules() -> ScoringRules:
        loaded = config.load_config()
        return ScoringRules(items=[*loaded.engagement, *loaded.fit])

    @api.route(
        "POST", base, policy=MARKETING, summary="Create a scoring rule", tag=TAG, status_code=201,
        problems=[409], headers={"Location": {"description": "the new rule's URL"}},
    )  # fmt: skip
    def create_scoring_rule(
        body: ScoringRule, idempotency_key: IdempotencyKey = None
    ) -> Response[EngagementRule | FitRule]:
        def create(_new_id: str) -> dict[str, Any]:
            config.save_rule(body, by=api.principal().user_id, create=True)
            return _document(body)

        created = create_once(
            api, resource="scoring-rule", body=body, idempotency_key=idempotency_key, create=create
        )
        return _created(created, f"{base}/{body.rule_id}")

    @api.route("GET", one, policy=MARKETING, summary="Get a scoring rule", tag=TAG, problems=[404])
    def get_scoring_rule(rule_id: RuleIdPath) -> EngagementRule | FitRule:
        return config.get_rule(rule_id)

    @api.route("PUT", one, policy=MARKETING, summary="Replace a scoring rule", tag=TAG, problems=[400, 404])
    def replace_scoring_rule(rule_id: RuleIdPath, body: ScoringRule) -> EngagementRule | FitRule:
        _same_id(body.rule_id, rule_id)
        config.save_rule(body, by=api.principal().user_id, create=False)
        return body

    @api.route(
        "DELETE", one, policy=MARKETING, summary="Delete a scoring rule", tag=TAG, status_code=204,
        problems=[404],
    )  # fmt: skip
    def delete_scoring_rule(rule_id: RuleIdPath) -> Response[None]:
        config.delete_rule(rule_id)
        return Response(status_code=204)


def _assignment_rules(api: Api) -> None:
    base, one = "/marketing/assignment-rules", "/marketing/assignment-rules/<rule_id>"

    @api.route("GET", base, policy=MARKETING, summary="List the assignment rules", tag=TAG)
    def list_assignment_rules() -> AssignmentRules:
        rules = sorted(config.load_config().assignment, key=lambda rule: (rule.priority, rule.rule_id))
        return AssignmentRules(items=rules)

    @api.route(
        "POST", base, policy=MARKETING, summary="Create an assignment rule", tag=TAG, status_code=201,
        problems=[409], headers={"Location": {"description": "the new rule's URL"}},
    )  # fmt: skip
    def create_assignment_rule(
        body: AssignmentRule, idempotency_key: IdempotencyKey = None
    ) -> Response[AssignmentRule]:
        def create(_new_id: str) -> dict[str, Any]:
            config.save_assignment_rule(body, by=api.principal().user_id, create=True)
            return _document(body)

        created = create_once(
            api, resource="assignment-rule", body=body, idempotency_key=idempotency_key, create=create
        )
        return _created(created, f"{base}/{body.rule_id}")

    @api.route("GET", one, policy=MARKETING, summary="Get an assignment rule", tag=TAG, problems=[404])
    def get_assignment_rule(rule_id: RuleIdPath) -> AssignmentRule:
        return config.get_assignment_rule(rule_id)

    @api.route(
        "PUT", one, policy=MARKETING, summary="Replace an assignment rule", tag=TAG, problems=[400, 404]
    )
    def replace_assignment_rule(rule_id: RuleIdPath, body: AssignmentRule) -> AssignmentRule:
        _same_id(body.rule_id, rule_id)
        config.save_assignment_rule(body, by=api.principal().user_id, create=False)
        return body

    @api.route(
        "DELETE", one, policy=MARKETING, summary="Delete an assignment rule", tag=TAG, status_code=204,
        problems=[404],
    )  # fmt: skip
    def delete_assignment_rule(rule_id: RuleIdPath) -> Response[None]:
        config.delete_assignment_rule(rule_id)
        return Response(status_code=204)


def _settings(api: Api) -> None:
    path = "/marketing/scoring-settings"

    @api.route("GET", path, policy=MARKETING, summary="Get the scoring settings", tag=TAG)
    def get_scoring_settings() -> ScoringSettings:
        return config.load_config().settings

    @api.route("PUT", path, policy=MARKETING, summary="Replace the scoring settings", tag=TAG)
    def replace_scoring_settings(body: ScoringSettings) -> ScoringSettings:
        config.save_settings(body, by=api.principal().user_id)
        return body


def _same_id(in_body: str, in_url: str) -> None:
    if in_body != in_url:
        raise BadRequest(
            f"The body's ruleId {in_body!r} differs from the URL's {in_url!r}; rule ids do not change."
        )


def _document(rule: BaseModel) -> dict[str, Any]:
    document: dict[str, Any] = rule.model_dump(by_alias=True, mode="json")
    return document


def _created(document: dict[str, Any], location: str) -> Response[Any]:
    return Response(status_code=201, content_type=JSON, body=document, headers={"Location": location})

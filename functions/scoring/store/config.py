"""Scoring configuration in the main table: rules, assignment rules, settings (one partition, one Query).

The defaults are seeded into an empty table the first time anything reads the configuration (once: a
marker item records it, so deleting every rule does not bring the defaults back). Scoring caches the
whole configuration per container for CONFIG_CACHE_SECONDS, so an edit takes effect within a minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from leadstream import clock, keys
from leadstream.aws import dynamodb
from leadstream.caches import TtlCache
from leadstream.errors import Conflict, NotFound
from leadstream.profiles import iso_utc
from leadstream.settings import get_settings
from leadstream.store.dynamo import deserialize, serialize
from scoring.rules import (
    DEFAULT_ENGAGEMENT_RULES,
    DEFAULT_FIT_RULES,
    AssignmentRule,
    EngagementRule,
    FitRule,
    ScoringConfig,
    ScoringRule,
    ScoringSettings,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

RULE_PREFIX = "RULE#"
ASSIGN_PREFIX = "ASSIGN#"
# Attributes stored beside a rule's own fields.
_BOOKKEEPING = frozenset({"pk", "sk", "updatedAt", "updatedBy"})
_rule_adapter: TypeAdapter[EngagementRule | FitRule] = TypeAdapter(ScoringRule)
# One configuration per main table: functions reading different tables never share it.
_configs: TtlCache[str, ScoringConfig] = TtlCache(now=clock.now)


def clear_cache() -> None:
    """Forget the cached configuration (after this container changed it)."""
    _configs.clear()


def scoring_config() -> ScoringConfig:
    """The configuration scoring runs with, cached per container for CONFIG_CACHE_SECONDS."""
    settings = get_settings()
    return _configs.get(settings.main_table, load_config, max_age=settings.config_cache_seconds)


def load_config() -> ScoringConfig:
    """Read the configuration now (seeding the defaults into an empty table first)."""
    items = _config_items()
    if not any(item["sk"] == keys.scoring_seeded_key()["sk"] for item in items):
        seed_defaults()
        items = _config_items()
    config = ScoringConfig()
    for item in items:
        sk, fields = item["sk"], _fields(item)
        if sk.startswith(RULE_PREFIX):
            rule = _rule_adapter.validate_python(fields)
            if isinstance(rule, EngagementRule):
                config.engagement.append(rule)
            else:
                config.fit.append(rule)
        elif sk.startswith(ASSIGN_PREFIX):
            config.assignment.append(AssignmentRule.model_validate(fields))
        elif sk == keys.scoring_settings_key()["sk"]:
            config.settings = ScoringSettings.model_validate(fields)
    return config


def seed_defaults() -> None:
    """Store the default rules and settings, once; a concurrent seeder makes this a no-op."""
    table = get_settings().main_table
    items: list[TransactWriteItemTypeDef] = [
        _create(table, keys.scoring_seeded_key(), {"seeded": True}),
        _create(table, keys.scoring_settings_key(), _document(ScoringSettings())),
        *(
            _create(table, keys.scoring_rule_key(rule.rule_id), _document(rule))
            for rule in (*DEFAULT_ENGAGEMENT_RULES, *DEFAULT_FIT_RULES)
        ),
    ]
    client = dynamodb()
    # Canceled: seeded meanwhile by another reader, and what it stored is what we wanted.
    with suppress(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=items)


# --- rules ------------------------------------------------------------------------------------------------
def get_rule(rule_id: str) -> EngagementRule | FitRule:
    config = load_config()
    rules: list[EngagementRule | FitRule] = [*config.engagement, *config.fit]
    for rule in rules:
        if rule.rule_id == rule_id:
            return rule
    raise NotFound(f"There is no scoring rule {rule_id!r}.")


def save_rule(rule: EngagementRule | FitRule, *, by: str, create: bool) -> None:
    _save(keys.scoring_rule_key(rule.rule_id), _document(rule), by=by, create=create, what="scoring rule")


def delete_rule(rule_id: str) -> None:
    _delete(keys.scoring_rule_key(rule_id), f"There is no scoring rule {rule_id!r}.")


def get_assignment_rule(rule_id: str) -> AssignmentRule:
    for rule in load_config().assignment:
        if rule.rule_id == rule_id:
            return rule
    raise NotFound(f"There is no assignment rule {rule_id!r}.")


def save_assignment_rule(rule: AssignmentRule, *, by: str, create: bool) -> None:
    _save(
        keys.assignment_rule_key(rule.rule_id), _document(rule), by=by, create=create, what="assignment rule"
    )


def delete_assignment_rule(rule_id: str) -> None:
    _delete(keys.assignment_rule_key(rule_id), f"There is no assignment rule {rule_id!r}.")


def save_settings(settings: ScoringSettings, *, by: str) -> None:
    _save(keys.scoring_settings_key(), _document(settings), by=by, create=None, what="settings")


# --- items ------------------------------------------------------------------------------------------------
def _config_items() -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": keys.SCORING_CONFIG_PK}},
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    while True:
        response = dynamodb().query(**request)
        items.extend(deserialize(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _document(model: Any) -> dict[str, Any]:
    document: dict[str, Any] = model.model_dump(by_alias=True, mode="json", exclude_none=True)
    return document


def _fields(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in _BOOKKEEPING}


def _create(table: str, key: dict[str, str], fields: dict[str, Any]) -> TransactWriteItemTypeDef:
    return {
        "Put": {
            "TableName": table,
            "Item": serialize({**key, **fields}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _save(key: dict[str, str], fields: dict[str, Any], *, by: str, create: bool | None, what: str) -> None:
    """Put an item; create=True: it must not exist (409), False: it must exist (404), None: either."""
    request: dict[str, Any] = {
        "TableName": get_settings().main_table,
        "Item": serialize({**key, **fields, "updatedAt": iso_utc(clock.now()), "updatedBy": by}),
    }
    if create is not None:
        request["ConditionExpression"] = "attribute_not_exists(pk)" if create else "attribute_exists(pk)"
    try:
        dynamodb().put_item(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        name = key["sk"].split("#", 1)[-1]
        if create:
            raise Conflict(f"A {what} {name!r} exists already; PUT to its URL to change it.") from None
        raise NotFound(f"There is no {what} {name!r}.") from None
    clear_cache()


def _delete(key: dict[str, str], missing: str) -> None:
    try:
        dynamodb().delete_item(
            TableName=get_settings().main_table,
            Key=serialize(key),
            ConditionExpression="attribute_exists(pk)",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise NotFound(missing) from None
    clear_cache()

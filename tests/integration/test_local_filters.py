"""FilterCriteria patterns (EventBridge syntax) as the local stream poller applies them."""

from __future__ import annotations

from typing import Any

import pytest

from leadstream_local.filters import compile_filters, passes

RECORD: dict[str, Any] = {
    "eventName": "INSERT",
    "dynamodb": {
        "NewImage": {
            "type": {"S": "track"},
            "event": {"S": "Signed Up"},
            "score": {"N": "42"},
            "tags": {"SS": ["vip", "beta"]},
            "gone": {"NULL": True},
        }
    },
}


def _patterns(*patterns: str) -> list[dict[str, Any]]:
    return compile_filters({"Filters": [{"Pattern": pattern} for pattern in patterns]})


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{"eventName": ["INSERT"]}', True),
        ('{"eventName": ["REMOVE", "MODIFY"]}', False),
        ('{"dynamodb": {"NewImage": {"type": {"S": ["track"]}}}}', True),
        ('{"dynamodb": {"NewImage": {"type": {"S": ["page"]}}}}', False),
        ('{"dynamodb": {"NewImage": {"missing": {"S": ["x"]}}}}', False),
        ('{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["page"]}}}}', False),
        ('{"dynamodb": {"NewImage": {"tags": {"SS": ["beta"]}}}}', True),  # any element of a list
        ('{"dynamodb": {"NewImage": {"event": {"S": [{"prefix": "Signed"}]}}}}', True),
        ('{"dynamodb": {"NewImage": {"event": {"S": [{"suffix": "Down"}]}}}}', False),
        ('{"dynamodb": {"NewImage": {"event": {"S": [{"equals-ignore-case": "signed up"}]}}}}', True),
        ('{"eventName": [{"anything-but": ["REMOVE"]}]}', True),
        ('{"eventName": [{"anything-but": "INSERT"}]}', False),
        ('{"dynamodb": {"NewImage": {"score": {"N": [{"numeric": [">", 40, "<=", 42]}]}}}}', True),
        ('{"dynamodb": {"NewImage": {"score": {"N": [{"numeric": [">", 42]}]}}}}', False),
        ('{"dynamodb": {"NewImage": {"missing": [{"exists": false}]}}}', True),
        ('{"dynamodb": {"NewImage": {"type": [{"exists": false}]}}}', False),
        ('{"dynamodb": {"NewImage": {"gone": {"NULL": [true]}}}}', True),
    ],
)
def test_pattern(pattern: str, expected: bool) -> None:
    assert passes(_patterns(pattern), RECORD) is expected


def test_any_filter_may_pass_a_record() -> None:
    assert passes(_patterns('{"eventName": ["REMOVE"]}', '{"eventName": ["INSERT"]}'), RECORD)


def test_no_filters_pass_everything() -> None:
    assert passes(compile_filters(None), RECORD)


@pytest.mark.parametrize(
    "pattern",
    ['{"eventName": [{"wildcard": "IN*"}]}', '{"eventName": "INSERT"}', '["INSERT"]', '{"a": [["x"]]}'],
)
def test_unsupported_patterns_are_refused_at_start(pattern: str) -> None:
    with pytest.raises(ValueError, match="filter"):
        _patterns(pattern)

"""Lambda event filtering (FilterCriteria), the EventBridge pattern syntax applied to one stream record.

A record passes when any filter's pattern matches. A pattern is an object whose keys must all match: a
nested object descends into the record, a list holds the accepted values (any one suffices; against a
list in the record, any element may match). Besides exact values (strings, numbers, null) the operators
`prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `exists` and `numeric` are supported; any
other operator is refused when the stack starts rather than silently never matching.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Pattern = dict[str, Any]

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MISSING = object()


def compile_filters(criteria: Mapping[str, Any] | None) -> list[Pattern]:
    """The patterns of a FilterCriteria property ({"Filters": [{"Pattern": "<json>"}]}), checked."""
    patterns: list[Pattern] = []
    for entry in (criteria or {}).get("Filters", []):
        raw = entry["Pattern"]
        pattern = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(pattern, dict):
            raise ValueError(f"a filter pattern must be a JSON object, not {raw!r}")
        _check(pattern)
        patterns.append(pattern)
    return patterns


def passes(patterns: Sequence[Pattern], record: Mapping[str, Any]) -> bool:
    """Whether Lambda would deliver `record`: no filters, or any pattern matches."""
    return not patterns or any(_matches(pattern, record) for pattern in patterns)


def _check(pattern: Mapping[str, Any]) -> None:
    for key, rule in pattern.items():
        if isinstance(rule, Mapping):
            _check(rule)
        elif isinstance(rule, list):
            for value in rule:
                if isinstance(value, Mapping):
                    ((name, _arg),) = value.items()
                    if name not in _OPERATORS:
                        raise ValueError(f"filter operator {name!r} (on {key!r}) is not supported locally")
                elif isinstance(value, list):
                    raise ValueError(f"filter values for {key!r} must be scalars or operators")
        else:
            raise ValueError(f"filter rule for {key!r} must be an object or a list, not {rule!r}")


def _matches(pattern: Mapping[str, Any], data: Any) -> bool:
    for key, rule in pattern.items():
        value = data.get(key, _MISSING) if isinstance(data, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if not _matches(rule, value):
                return False
        elif not any(_value_matches(accepted, value) for accepted in rule):
            return False
    return True


def _value_matches(accepted: Any, value: Any) -> bool:
    if isinstance(accepted, Mapping):
        ((name, argument),) = accepted.items()
        if name == "exists":
            return (value is not _MISSING) == bool(argument)
        if value is _MISSING:
            return False
        return _OPERATORS[name](argument, value)
    if value is _MISSING:
        return False
    return any(_equal(accepted, candidate) for candidate in _candidates(value))


def _candidates(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _equal(accepted: Any, candidate: Any) -> bool:
    if isinstance(accepted, bool) or isinstance(candidate, bool):
        return accepted is candidate
    if isinstance(accepted, int | float) and isinstance(candidate, int | float):
        return float(accepted) == float(candidate)
    return bool(type(accepted) is type(candidate) and accepted == candidate)


def _number(candidate: Any) -> float | None:
    """DynamoDB numbers travel as strings ({"N": "5"}); Lambda compares them as numbers."""
    if isinstance(candidate, bool):
        return None
    if isinstance(candidate, int | float):
        return float(candidate)
    if isinstance(candidate, str):
        try:
            return float(candidate)
        except ValueError:
            return None
    return None


def _prefix(argument: Any, value: Any) -> bool:
    return any(isinstance(c, str) and c.startswith(argument) for c in _candidates(value))


def _suffix(argument: Any, value: Any) -> bool:
    return any(isinstance(c, str) and c.endswith(argument) for c in _candidates(value))


def _equals_ignore_case(argument: Any, value: Any) -> bool:
    return any(isinstance(c, str) and c.casefold() == str(argument).casefold() for c in _candidates(value))


def _anything_but(argument: Any, value: Any) -> bool:
    refused = argument if isinstance(argument, list) else [argument]
    return all(not any(_equal(no, c) for no in refused) for c in _candidates(value))


def _numeric(argument: Any, value: Any) -> bool:
    conditions = list(zip(argument[::2], argument[1::2], strict=True))
    for candidate in _candidates(value):
        number = _number(candidate)
        if number is not None and all(_COMPARISONS[op](number, float(bound)) for op, bound in conditions):
            return True
    return False


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "exists": lambda _argument, _value: True,  # decided in _value_matches: it needs to see absence
}

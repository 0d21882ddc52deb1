"""Numbers DynamoDB can hold: the one check every API model uses, the 422 paths it gives, and the writes it
promises will succeed."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from audience.conditions import parse_condition
from crm.commerce.pricing import LineInput
from crm.resources.accounts import AccountFields
from crm.resources.deals import DealFields
from leadstream.http import validation_errors
from leadstream.numbers import STORABLE_NUMBERS, StorableFloat, to_dynamo, unstorable
from leadstream.store.dynamo import deserialize, serialize
from scoring.rules import ScoringSettings

NAN = float("nan")


@pytest.mark.parametrize(
    "number",
    [
        0,
        -0.0,
        Decimal("0E-500"),
        1,
        0.1,
        Decimal("1E-130"),
        Decimal("-1E-130"),
        Decimal("9.9999999999999999999999999999999999999E+125"),
        int("9" * 38),
        10**40,  # one significant digit: DynamoDB drops trailing zeros
        Decimal("1." + "0" * 60),
        1.7976931348623157e125,
    ],
)
def test_numbers_dynamodb_holds_pass(number: Any) -> None:
    assert unstorable(number) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (float("inf"), "finite"),
        (float("-inf"), "finite"),
        (float("nan"), "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (int("9" * 39), "38 significant digits"),
        (Decimal("1.00000000000000000000000000000000000001"), "38 significant digits"),
        (1e126, "too large"),
        (-1e300, "too large"),
        (Decimal("1E+126"), "too large"),
        (10**126, "too large"),
        (1e-131, "too small"),
        (5e-324, "too small"),
        (Decimal("-1E-131"), "too small"),
    ],
)
def test_numbers_dynamodb_cannot_hold_say_why(number: Any, reason: str) -> None:
    assert reason in (unstorable(number) or "")


finite_numbers = (
    st.integers(min_value=-(10**130), max_value=10**130)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False)
)


@given(finite_numbers)
def test_every_number_the_check_lets_through_is_written_and_read_back_unchanged(number: Any) -> None:
    if unstorable(number) is not None:
        return
    item = {"top": number, "nested": {"list": [number]}}
    back = deserialize(serialize(item))
    expected = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    assert back["top"] == back["nested"]["list"][0] == expected
    assert to_dynamo(number) == expected


class Document(BaseModel):
    traits: Annotated[dict[str, Any], STORABLE_NUMBERS]
    score: StorableFloat = 0


def test_free_form_values_are_checked_at_every_depth_with_their_path() -> None:
    with pytest.raises(ValidationError) as refused:
        Document.model_validate(
            {"traits": {"ok": 1.5, "company": {"revenue": 1e300, "offices": [3, float("nan")]}, "n": "1e999"}}
        )
    assert validation_errors(refused.value) == [
        {
            "field": "traits.company.revenue",
            "message": "the number is too large: its magnitude must be below 1E+126",
        },
        {
            "field": "traits.company.offices.1",
            "message": "the number must be a finite number (not NaN or infinity)",
        },
    ]


def test_a_refused_integer_is_not_read_as_the_nearest_float_instead() -> None:
    """A custom field is a string, a boolean, an int or a float: an int refused as such must not pass as
    a float (1.2345678901234568e+41) that the client never sent."""
    too_precise = int("1234567890" * 4) + 1
    with pytest.raises(ValidationError) as refused:
        AccountFields.model_validate({"name": "Acme", "customFields": {"seats": too_precise}})
    assert [error["field"] for error in validation_errors(refused.value)] == ["customFields.seats"]
    assert "38 significant digits" in validation_errors(refused.value)[0]["message"]
    kept = AccountFields.model_validate({"name": "Acme", "customFields": {"seats": 10**40, "ratio": 0.25}})
    assert kept.custom_fields == {"seats": 10**40, "ratio": 0.25}


@pytest.mark.parametrize("amount", ["1E+100000000", "1E+41", "-1E+50"])
def test_an_amount_with_a_huge_exponent_is_refused_by_its_bounds(amount: str) -> None:
    """The plain-notation step used to run before the bounds and raised decimal.InvalidOperation (a 500)."""
    with pytest.raises(ValidationError) as refused:
        DealFields.model_validate({"name": "Deal", "currency": "EUR", "amount": amount})
    assert [error["field"] for error in validation_errors(refused.value)] == ["amount"]
    with pytest.raises(ValidationError) as refused_line:
        LineInput.model_validate({"quantity": amount, "unitPrice": "1"})
    assert [error["field"] for error in validation_errors(refused_line.value)] == ["quantity"]


def test_money_keeps_its_own_rules() -> None:
    deal = DealFields.model_validate({"name": "Deal", "currency": "EUR", "amount": "1E+3"})
    assert str(deal.amount) == "1000"
    with pytest.raises(ValidationError, match="decimal strings"):
        DealFields.model_validate({"name": "Deal", "currency": "EUR", "amount": 19.99})


def test_typed_numbers_are_refused_at_their_field() -> None:
    with pytest.raises(ValidationError) as refused:
        ScoringSettings.model_validate({"mqlEngagement": 1e-300, "grades": {"A": 10**39 + 1}})
    assert validation_errors(refused.value) == [
        {
            "field": "mqlEngagement",
            "message": "the number is too small: other than 0, its magnitude must be at least 1E-130",
        },
        {"field": "grades.A", "message": "the number has more than 38 significant digits"},
    ]


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"type": "trait", "path": "n", "op": "gt", "value": float("inf")}, "trait.value"),
        ({"type": "trait", "path": "n", "op": "in", "values": [1, 1e300]}, "trait.values.1"),
        ({"type": "score", "score": "fit", "op": "gt", "value": 1e-300}, "score.value"),
        (
            {"type": "any", "conditions": [{"type": "trait", "path": "n", "op": "eq", "value": NAN}]},
            "any.conditions.0.trait.value",
        ),
    ],
)
def test_condition_values_are_refused_at_their_path(condition: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_condition(condition)
    assert [error["field"] for error in validation_errors(refused.value)] == [field]

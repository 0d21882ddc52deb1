"""Quote and order arithmetic: exact decimals, one rounding rule per currency, totals = sum of lines."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from crm.commerce.money import MINOR_UNITS, round_money
from crm.commerce.pricing import Line, LineInput, price_line, totals

currencies = st.sampled_from(sorted(MINOR_UNITS))
quantities = st.decimals(min_value="0.0001", max_value="1000000", places=4)
unit_prices = st.decimals(min_value="0", max_value="1000000000", places=6)
percents = st.decimals(min_value="0", max_value="100", places=4)
line_inputs = st.builds(
    lambda quantity, unit_price, discount, tax: LineInput.model_validate(
        {
            "description": "item",
            "quantity": str(quantity),
            "unitPrice": str(unit_price),
            "discountPercent": str(discount),
            "taxRatePercent": str(tax),
        }
    ),
    quantities,
    unit_prices,
    percents,
    percents,
)


def _priced(line: LineInput, currency: str) -> Line:
    assert line.unit_price is not None
    return price_line(
        currency=currency,
        description=line.description or "",
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_percent=line.discount_percent,
        tax_rate_percent=line.tax_rate_percent,
    )


def _half_up(value: Fraction, places: int) -> Fraction:
    """An independent oracle: round a rational half away from zero (amounts here are never negative)."""
    scale = 10**places
    scaled = value * scale
    whole = scaled.numerator // scaled.denominator
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return Fraction(whole, scale)


def _no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(_no_floats(inner) for inner in value.values())
    if isinstance(value, list):
        return all(_no_floats(inner) for inner in value)
    return True


@given(st.lists(line_inputs, min_size=0, max_size=12), currencies)
def test_totals_are_the_sums_of_the_rounded_lines(inputs: list[LineInput], currency: str) -> None:
    lines = [_priced(line, currency) for line in inputs]
    result = totals(lines, currency)

    for name in ("subtotal", "discount", "net", "tax", "total"):
        assert getattr(result, name) == sum((getattr(line, name) for line in lines), Decimal(0))
    assert result.total == result.net + result.tax == result.subtotal - result.discount + result.tax
    exponent = -MINOR_UNITS[currency]
    for line in lines:
        for amount in (line.subtotal, line.discount, line.net, line.tax, line.total):
            assert isinstance(amount, Decimal)
            assert amount.as_tuple().exponent == exponent
        assert line.net == line.subtotal - line.discount
        assert line.total == line.net + line.tax
    dumped = [line.model_dump(mode="python") for line in lines] + [result.model_dump(mode="python")]
    assert _no_floats(dumped)
    assert _no_floats(json.loads(json.dumps([line.model_dump(mode="json") for line in lines])))


@given(line_inputs, currencies)
def test_each_line_is_rounded_half_up_from_the_exact_product(line: LineInput, currency: str) -> None:
    priced = _priced(line, currency)
    places = MINOR_UNITS[currency]
    assert line.unit_price is not None
    subtotal = _half_up(Fraction(line.quantity) * Fraction(line.unit_price), places)
    discount = _half_up(subtotal * Fraction(line.discount_percent) / 100, places)
    tax = _half_up((subtotal - discount) * Fraction(line.tax_rate_percent) / 100, places)
    assert Fraction(priced.subtotal) == subtotal
    assert Fraction(priced.discount) == discount
    assert Fraction(priced.tax) == tax
    assert Fraction(priced.total) == subtotal - discount + tax


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("0.125", "EUR", "0.13"),  # half up, not half even
        ("0.135", "EUR", "0.14"),
        ("0.124999", "EUR", "0.12"),
        ("2.5", "JPY", "3"),
        ("1.0005", "KWD", "1.001"),
        ("7", "USD", "7.00"),
    ],
)
def test_rounding_rule_per_currency(amount: str, currency: str, rounded: str) -> None:
    result = round_money(Decimal(amount), currency)
    assert str(result) == rounded


def test_a_worked_example() -> None:
    line = price_line(
        currency="EUR",
        description="Seat licence",
        quantity=Decimal(3),
        unit_price=Decimal("19.99"),
        discount_percent=Decimal(10),
        tax_rate_percent=Decimal(19),
    )
    # 59.97 - 6.00 (5.997 rounded) = 53.97; tax 10.2543 -> 10.25
    assert (line.subtotal, line.discount, line.net, line.tax, line.total) == (
        Decimal("59.97"),
        Decimal("6.00"),
        Decimal("53.97"),
        Decimal("10.25"),
        Decimal("64.22"),
    )
    assert line.model_dump(mode="json", by_alias=True)["total"] == "64.22"


def test_totals_of_no_lines_are_zero_in_the_currency() -> None:
    assert str(totals([], "USD").total) == "0.00"
    assert str(totals([], "JPY").total) == "0"


@pytest.mark.parametrize("field", ["quantity", "unitPrice", "discountPercent", "taxRatePercent"])
def test_a_json_number_with_a_fraction_is_refused(field: str) -> None:
    body = {"description": "x", "quantity": "1", "unitPrice": "1", field: 19.99}
    with pytest.raises(ValidationError, match="decimal strings"):
        LineInput.model_validate(body)


def test_decimal_strings_and_whole_numbers_are_taken_exactly() -> None:
    line = LineInput.model_validate({"quantity": 2, "unitPrice": "1E+3", "discountPercent": " 12.5 "})
    assert line.quantity == Decimal(2)
    assert str(line.unit_price) == "1000"
    assert line.discount_percent == Decimal("12.5")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "0"),
        ("quantity", "1.00001"),
        ("unitPrice", "-1"),
        ("unitPrice", "NaN"),
        ("discountPercent", "100.01"),
        ("taxRatePercent", "Infinity"),
    ],
)
def test_out_of_range_amounts_are_refused(field: str, value: str) -> None:
    body = {"quantity": "1", "unitPrice": "1", field: value}
    with pytest.raises(ValidationError):
        LineInput.model_validate(body)

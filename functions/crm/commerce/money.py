"""Money: exact decimal amounts, currencies and the one rounding rule.

No float ever holds an amount. Amounts come in as decimal strings (or whole numbers), are computed with
`Decimal`, and go out as strings. Rounding happens only where `round_money` is called, to the currency's
minor unit (ISO 4217: two places for EUR and USD, none for JPY, three for KWD), half up: a 0.5 minor
unit rounds away from zero, the rule of commercial invoicing. docs/commerce.md says where it is applied.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from leadstream.numbers import storable_numbers

ROUNDING = ROUND_HALF_UP
# Enough digits for the largest product the input limits allow (10^6 x 10^9, six places each), so no
# intermediate result is ever rounded by the context: only round_money rounds.
EXACT = Context(prec=40, rounding=ROUNDING)

# ISO 4217 minor units of the currencies the CRM quotes in. Add a currency here to support it.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "INR": 2,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "USD": 2,
    "ZAR": 2,
}


def quantum(currency: str) -> Decimal:
    """The currency's minor unit as a Decimal exponent: Decimal("0.01") for EUR, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUNDING, context=EXACT)


def zero(currency: str) -> Decimal:
    return Decimal(0).quantize(quantum(currency))


def _known_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError(f"{code!r} is not a supported currency; use one of {', '.join(sorted(MINOR_UNITS))}")
    return code


def _refuse_float(value: object) -> object:
    """A JSON number with a fraction arrives as a float, which may already have lost a cent: refuse it."""
    if isinstance(value, bool):
        raise ValueError('expected a decimal string such as "19.99"')
    if isinstance(value, float):
        raise ValueError('send amounts as decimal strings such as "19.99", not JSON numbers with a fraction')
    if isinstance(value, str):
        return value.strip()
    return value


def _plain(value: Decimal) -> Decimal:
    """ "1E+3" is a valid Decimal but not how anyone writes a price: store and show it as "1000"."""
    exponent = value.as_tuple().exponent
    return value.quantize(Decimal(1), context=EXACT) if isinstance(exponent, int) and exponent > 0 else value


Currency = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    AfterValidator(_known_currency),
    Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR"),
]

# Input amounts: a decimal string ("19.99") or a whole number; bounded so arithmetic stays exact. The bounds
# come first: `_plain` may only see an amount they allow ("1E+100000000" has too many digits to make plain).
Quantity = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    Field(gt=0, le=1_000_000, decimal_places=4, allow_inf_nan=False, description='e.g. "3" or "2.5"'),
    AfterValidator(storable_numbers),
    AfterValidator(_plain),
]
UnitPrice = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    Field(ge=0, le=1_000_000_000, decimal_places=6, allow_inf_nan=False, description='e.g. "19.99"'),
    AfterValidator(storable_numbers),
    AfterValidator(_plain),
]
Percent = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    Field(ge=0, le=100, decimal_places=4, allow_inf_nan=False, description='percent, e.g. "7.5"'),
    AfterValidator(storable_numbers),
    AfterValidator(_plain),
]
# An amount already in the currency's precision (a contract value); checked against the currency by the
# model that knows it.
Amount = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    Field(ge=0, le=1_000_000_000_000, decimal_places=3, allow_inf_nan=False, description='e.g. "12000.00"'),
    AfterValidator(storable_numbers),
    AfterValidator(_plain),
]

"""Numbers as DynamoDB holds them, checked once where they come in.

A DynamoDB number has at most 38 significant digits (leading and trailing zeros do not count) and, unless
it is zero, a magnitude from 1E-130 to 9.99...E+125; NaN and the infinities do not exist. Every API model
that accepts a number uses the types below, so a number outside those limits is a 422 naming its field,
never a failed write (a 500) or a value stored as something else (an infinity dumped to JSON is null).

- `StorableInt`, `StorableFloat`, `StorableIntOrNone`: a field of one number type
  (add `Field` bounds).
- `STORABLE_NUMBERS`: for a union or a free-form value (a custom field, a condition value, a dict of
  them). It checks every number in the value as it arrives, before a union picks a member (so a refused
  integer is never quietly read as a float instead), and names the nested path of the one it refuses.

Floats are stored through their shortest repr (0.1 is stored as 0.1), as `as_decimal` converts them.
Tracking refuses an event number outside these limits (`fits_dynamodb`: it could not be kept as sent);
a profile keeps such a trait value as text (leadstream.profiles.storable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Context, Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

MAX_DIGITS = 38
MIN_EXPONENT = -130  # of the most significant digit: 1E-130 is the smallest magnitude
MAX_EXPONENT = 125  # of the most significant digit: anything below 1E+126
ERROR_TYPE = "storable_number"

type Number = int | float | Decimal


def as_decimal(number: Number) -> Decimal:
    """The number as DynamoDB gets it: a float through its shortest repr, others exactly."""
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def _significant_digits(number: Decimal) -> int:
    """Digits without the trailing zeros (a Decimal's coefficient has no leading ones)."""
    return len("".join(map(str, number.as_tuple().digits)).rstrip("0"))


def unstorable(number: Number) -> str | None:
    """Why DynamoDB cannot hold `number`, in words a client can act on; None when it can."""
    decimal = as_decimal(number) if not isinstance(number, float) or math.isfinite(number) else None
    if decimal is None or not decimal.is_finite():
        return "must be a finite number (not NaN or infinity)"
    if decimal.is_zero():
        return None
    if _significant_digits(decimal) > MAX_DIGITS:
        return f"has more than {MAX_DIGITS} significant digits"
    if decimal.adjusted() > MAX_EXPONENT:
        return "is too large: its magnitude must be below 1E+126"
    if decimal.adjusted() < MIN_EXPONENT:
        return "is too small: other than 0, its magnitude must be at least 1E-130"
    return None


def fits_dynamodb(number: Decimal) -> bool:
    """Whether DynamoDB stores `number` exactly (zero always fits; NaN and infinities never do)."""
    return unstorable(number) is None


def to_dynamo(number: Number) -> Decimal:
    """The Decimal to write for a storable `number`. Written digits beyond 38 can only be trailing zeros
    (`unstorable` refuses more significant ones); they are dropped, as DynamoDB itself drops them, because
    the serializer refuses a Decimal written with more than 38 digits."""
    decimal = as_decimal(number)
    digits = len(decimal.as_tuple().digits)
    return decimal.normalize(Context(prec=digits)) if digits > MAX_DIGITS else decimal


def storable_numbers[T](value: T) -> T:
    """`value` unchanged when it is a number DynamoDB can hold, or holds only such numbers (nested in
    objects and lists too), or none; else a ValidationError located at the (nested) path of each refused
    number, which pydantic puts under the field's own path (`customFields.revenue`)."""
    problems = list(_refused(value, ()))
    if problems:
        raise ValidationError.from_exception_data(
            "storable numbers",
            [
                InitErrorDetails(
                    type=PydanticCustomError(ERROR_TYPE, "the number {reason}", {"reason": reason}),
                    loc=path,
                    input=number,
                )
                for path, number, reason in problems
            ],
        )
    return value


def _refused(value: object, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], Any, str]]:
    if isinstance(value, Mapping):
        return [found for key, inner in value.items() for found in _refused(inner, (*path, str(key)))]
    if isinstance(value, list | tuple):
        return [found for index, inner in enumerate(value) for found in _refused(inner, (*path, index))]
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return []
    reason = unstorable(value)
    return [(path, value, reason)] if reason else []


STORABLE_NUMBERS = BeforeValidator(storable_numbers)
StorableInt = Annotated[int, AfterValidator(storable_numbers)]
StorableFloat = Annotated[float, AfterValidator(storable_numbers)]
# An optional one: `StorableIntOrNone = Field(ge=1)` validates the same, but pydantic then writes the
# bounds into the JSON schema as "ge"/"le" instead of "minimum"/"maximum".
StorableIntOrNone = Annotated[int | None, AfterValidator(storable_numbers)]

"""What a DynamoDB number can hold: 38 significant digits, magnitudes from 1e-130 to below 1e126.

Tracking refuses a number outside these limits (it could not be kept as sent); a profile keeps such a
trait value as text (leadstream.profiles.storable). Both ask this module.
"""

from __future__ import annotations

from decimal import Decimal

MAX_DIGITS = 38
MIN_EXPONENT = -130
MAX_EXPONENT = 125


def fits_dynamodb(number: Decimal) -> bool:
    """Whether DynamoDB stores `number` exactly (zero always fits; NaN and infinities never do)."""
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    return significant_digits(number) <= MAX_DIGITS and MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT


def significant_digits(number: Decimal) -> int:
    """How many digits `number` has from its first non-zero digit to its last (1.50 and 150 have 2)."""
    # Not Decimal.normalize(): it rounds to the context's 28 digits, so 40 digits would seem to fit.
    return len("".join(map(str, number.as_tuple().digits)).strip("0"))

"""Line items and totals of quotes and orders, in exact decimal arithmetic.

Per line, in the quote's currency:

    subtotal = round(quantity x unit price)
    discount = round(subtotal x discount% / 100)
    net      = subtotal - discount            (exact: both are already rounded)
    tax      = round(net x tax rate% / 100)
    total    = net + tax                      (exact)

`round` is `money.round_money`: the currency's minor unit, half up. A document's totals are the sums of
its rounded line amounts, so the printed lines always add up to the printed total, to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import ConfigDict, Field

from crm.commerce.money import EXACT, Percent, Quantity, UnitPrice, round_money, zero
from leadstream.models import Model

HUNDRED = Decimal(100)
MAX_LINES = 200  # keeps a quote one DynamoDB item with room to spare


class LineInput(Model):
    """A line as a client sends it. Without `unitPrice`, the product's price book entry is used."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    product_id: str | None = Field(default=None, alias="productId", min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=2000)
    quantity: Quantity
    unit_price: UnitPrice | None = Field(default=None, alias="unitPrice")
    discount_percent: Percent = Field(default=Decimal(0), alias="discountPercent")
    tax_rate_percent: Percent = Field(default=Decimal(0), alias="taxRatePercent")


class Line(Model):
    """A priced line: what the client chose and the amounts computed from it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    product_id: str | None = Field(default=None, alias="productId")
    sku: str | None = None
    description: str
    quantity: Decimal
    unit_price: Decimal = Field(alias="unitPrice")
    discount_percent: Decimal = Field(alias="discountPercent")
    tax_rate_percent: Decimal = Field(alias="taxRatePercent")
    subtotal: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal


class Totals(Model):
    model_config = ConfigDict(frozen=True)

    subtotal: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal


def price_line(
    *,
    currency: str,
    description: str,
    quantity: Decimal,
    unit_price: Decimal,
    discount_percent: Decimal = Decimal(0),
    tax_rate_percent: Decimal = Decimal(0),
    product_id: str | None = None,
    sku: str | None = None,
) -> Line:
    subtotal = round_money(EXACT.multiply(quantity, unit_price), currency)
    discount = round_money(EXACT.divide(EXACT.multiply(subtotal, discount_percent), HUNDRED), currency)
    net = EXACT.subtract(subtotal, discount)
    tax = round_money(EXACT.divide(EXACT.multiply(net, tax_rate_percent), HUNDRED), currency)
    return Line(
        product_id=product_id,
        sku=sku,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        discount_percent=discount_percent,
        tax_rate_percent=tax_rate_percent,
        subtotal=subtotal,
        discount=discount,
        net=net,
        tax=tax,
        total=EXACT.add(net, tax),
    )


def reprice(line: Line, currency: str) -> Line:
    """The same line computed afresh (a copied order recomputes rather than trusting stored amounts)."""
    return price_line(
        currency=currency,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_percent=line.discount_percent,
        tax_rate_percent=line.tax_rate_percent,
        product_id=line.product_id,
        sku=line.sku,
    )


def totals(lines: Sequence[Line], currency: str) -> Totals:
    def total_of(field: str) -> Decimal:
        amount = zero(currency)
        for line in lines:
            amount = EXACT.add(amount, getattr(line, field))
        return amount

    return Totals(
        subtotal=total_of("subtotal"),
        discount=total_of("discount"),
        net=total_of("net"),
        tax=total_of("tax"),
        total=total_of("total"),
    )

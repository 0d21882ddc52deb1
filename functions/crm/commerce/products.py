"""Products and the price book: each product's list price per currency.

The price book of a currency is every active product with a price in it. A quote line names a product
and takes its unit price from the price book unless the line gives its own `unitPrice` (a negotiated
price; discounts are the usual way down).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from crm.api.models import CrmInput, LongText, Name, RecordId
from crm.commerce.money import Currency, UnitPrice
from crm.commerce.pricing import MAX_LINES, Line, LineInput, price_line
from crm.records import CrmRecord
from leadstream.errors import InvalidInput

Sku = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
    Field(examples=["SEAT-PRO"]),
]
PRICES = 'list price per currency, e.g. {"EUR": "90.00", "USD": "99.00"}'


class ProductFields(CrmInput):
    """What a client may set on a product."""

    sku: Sku = Field(description="stock-keeping unit: unique, case-insensitive")
    name: Name
    description: LongText | None = None
    active: bool = Field(default=True, description="false: no longer sold (kept for old quotes)")
    prices: dict[Currency, UnitPrice] = Field(default_factory=dict, description=PRICES)


class ProductChanges(CrmInput):
    """A PATCH of a product; in `prices`, a currency set to null is removed from the price book."""

    sku: Sku | None = None
    name: Name | None = None
    description: LongText | None = None
    active: bool | None = None
    prices: dict[Currency, UnitPrice | None] | None = Field(default=None, description=PRICES)


class Product(ProductFields, CrmRecord):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    product_id: RecordId = Field(alias="productId")

    def price_in(self, currency: str) -> Decimal | None:
        return self.prices.get(currency)


def price_lines(inputs: Sequence[LineInput], *, currency: str, products: Mapping[str, Product]) -> list[Line]:
    """Price a document's lines; every problem in any line is reported at once, by line."""
    if len(inputs) > MAX_LINES:
        raise InvalidInput(f"A quote holds at most {MAX_LINES} lines; split it.")
    problems: list[dict[str, str]] = []
    lines: list[Line] = []
    for number, line in enumerate(inputs):
        field = f"lines.{number}"
        product = products.get(line.product_id) if line.product_id else None
        if line.product_id and product is None:
            problems.append({"field": f"{field}.productId", "message": f"no product {line.product_id}"})
            continue
        if product is not None and not product.active:
            problems.append({"field": f"{field}.productId", "message": f"{product.sku} is not sold any more"})
            continue
        unit_price = line.unit_price if line.unit_price is not None else _list_price(product, currency)
        if unit_price is None:
            problems.append({"field": f"{field}.unitPrice", "message": _missing_price(product, currency)})
            continue
        description = line.description or (product.name if product else None)
        if not description:
            problems.append({"field": f"{field}.description", "message": "describe a line without a product"})
            continue
        lines.append(
            price_line(
                currency=currency,
                description=description,
                quantity=line.quantity,
                unit_price=unit_price,
                discount_percent=line.discount_percent,
                tax_rate_percent=line.tax_rate_percent,
                product_id=product.product_id if product else None,
                sku=product.sku if product else None,
            )
        )
    if problems:
        raise InvalidInput("Some lines cannot be priced; see errors.", errors=problems)
    return lines


def _list_price(product: Product | None, currency: str) -> Decimal | None:
    return product.price_in(currency) if product else None


def _missing_price(product: Product | None, currency: str) -> str:
    if product is None:
        return "give a unitPrice (or a productId with a price in the price book)"
    return f"{product.sku} has no {currency} price in the price book; give a unitPrice or add the price"

"""Products and the price book: each product's list price per currency.

The price book of a currency is every active product with a price in it. A quote line names a product
and takes its unit price from the price book unless the line gives its own `unitPrice` (a negotiated
price; discounts are the usual way down).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadstream.errors import InvalidInput
from sales.commerce.money import MINOR_UNITS, Currency, UnitPrice
from sales.commerce.pricing import MAX_LINES, Line, LineInput, price_line


class ProductFields(BaseModel):
    """What a client may set on a product (create takes all required ones; PATCH any subset)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    active: bool = True
    prices: dict[Currency, UnitPrice] = Field(
        default_factory=dict, description='list price per currency, e.g. {"EUR": "90.00", "USD": "99.00"}'
    )

    @field_validator("prices")
    @classmethod
    def _bounded(cls, prices: dict[str, Decimal]) -> dict[str, Decimal]:
        if len(prices) > len(MINOR_UNITS):
            raise ValueError("one price per currency")
        return prices


class Product(ProductFields):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    product_id: str = Field(alias="productId")

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

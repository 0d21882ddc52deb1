"""Products and the price book. Everyone who quotes reads them; only admins change them (a price is a
commercial decision, not a rep's)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import Field

from crm.api.framework import Resource, register_resource
from crm.commerce.money import MINOR_UNITS
from crm.commerce.products import Product, ProductChanges, ProductFields
from crm.records import RecordType
from crm.store import records as store
from leadstream import keys
from leadstream.api import Api, ListParams
from leadstream.auth import ADMIN_ONLY, CRM_DEALS
from leadstream.errors import NotFound
from leadstream.models import Model


class ProductQuery(ListParams):
    active: bool | None = Field(default=None, description="only products (not) sold any more")
    created_from: date | None = Field(default=None, alias="createdFrom")
    created_to: date | None = Field(default=None, alias="createdTo")


PRODUCT = RecordType(
    kind="product",
    plural="products",
    model=Product,
    id_field="product_id",
    title_field="name",
    owner_field=None,
    account_field=None,
    unique_fields=("sku",),
)

PRODUCTS = Resource(
    record=PRODUCT,
    create_model=ProductFields,
    patch_model=ProductChanges,
    query_model=ProductQuery,
    read=CRM_DEALS,
    write=ADMIN_ONLY,
    tag="products",
    # A product is never deleted: old quotes and orders name it. `active: false` stops selling it.
    operations=frozenset({"list", "create", "get", "patch", "history"}),
)


class PriceBookEntry(Model):
    product_id: str = Field(alias="productId")
    sku: str
    name: str
    unit_price: Decimal = Field(alias="unitPrice")


class PriceBookPage(Model):
    """One page of the price book of a currency; follow `nextCursor` until it is null."""

    currency: str
    items: list[PriceBookEntry]
    next_cursor: str | None = Field(default=None, alias="nextCursor")


CurrencyPath = Annotated[str, Path(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, e.g. EUR")]


def products_by_id(product_ids: list[str]) -> dict[str, Product]:
    """The products quote lines name (one BatchGetItem per 100)."""
    return store.get_records(PRODUCT, sorted(set(product_ids))) if product_ids else {}


def register(api: Api) -> None:
    register_resource(api, PRODUCTS)

    @api.route(
        "GET",
        "/crm/price-book/<currency>",
        policy=CRM_DEALS,
        summary="The price book of a currency: every active product with a price in it",
        tag="products",
        problems=[400, 404],
    )
    def price_book(currency: CurrencyPath, params: Annotated[ListParams, Query()]) -> PriceBookPage:
        code = currency.upper()
        if code not in MINOR_UNITS:
            raise NotFound(f"No price book in {code}; currencies: {', '.join(sorted(MINOR_UNITS))}.")
        index, partition = keys.record_list_partition(PRODUCT.kind)
        query = store.ListQuery(
            index=index,
            partition=partition,
            filters={"active": True},
            limit=params.limit,
            cursor=params.cursor,
        )
        page = store.list_records(PRODUCT, query)
        entries = [
            PriceBookEntry(productId=p.product_id, sku=p.sku, name=p.name, unitPrice=p.prices[code])
            for p in page.items
            if code in p.prices
        ]
        return PriceBookPage(currency=code, items=entries, nextCursor=page.next_cursor)

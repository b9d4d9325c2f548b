"""GraphQL types for the catalog."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import resolvers.stock as stock_resolvers
from commerce.catalog import Product as CatalogProduct
from schema.types import Money, money


@strawberry.type(description="One SKU of a bundle, and how many of it the bundle holds.")
class BundleItem:
    sku: str
    quantity: int


@strawberry.type(description="Something the shop sells: a piece of jewellery, or a bundle of pieces.")
class Product:
    sku: strawberry.ID
    name: str
    price: Money = strawberry.field(description="What one unit costs (the bundle price for a bundle).")
    active: bool = strawberry.field(description="False for a retired product: shown, not sold.")
    category: str = strawberry.field(description="necklaces, earrings, bracelets, ... or bundles.")
    description: str | None
    images: list[str] = strawberry.field(description="Image paths, first is the main one.")
    variant_group: str | None = strawberry.field(
        description="Products that are variants of one design share this value."
    )
    variant_name: str | None = strawberry.field(description="This variant's name, e.g. Red.")
    compare_at_price: Money = strawberry.field(
        description="The parts bought separately; equal to price unless a bundle."
    )
    bundle_items: list[BundleItem] = strawberry.field(description="Empty unless a bundle.")

    @strawberry.field(description=(
        "How many can be bought now (a bundle: as many as its scarcest part allows); null when "
        "unlimited. Checkouts in progress hold theirs; nothing is reserved by asking."))
    async def available(self, info: Info) -> int | None:
        return await stock_resolvers.available(info.context, self.sku)

    @strawberry.field(description="False when sold out (available is 0); true for unlimited products.")
    async def in_stock(self, info: Info) -> bool:
        left = await stock_resolvers.available(info.context, self.sku)
        return left is None or left > 0

    @classmethod
    def of(cls, p: CatalogProduct) -> Product:
        return cls(
            sku=strawberry.ID(p.sku), name=p.name, price=money(p.price, p.currency),
            active=p.active, category=p.category, description=p.description,
            images=list(p.images), variant_group=p.variant_group, variant_name=p.variant_name,
            compare_at_price=money(p.list_price, p.currency),
            bundle_items=[BundleItem(sku=s, quantity=q) for s, q in p.bundle_items],
        )

"""GraphQL types for stock: admins' view of the counts, and setStock."""

from __future__ import annotations

import strawberry

from commerce.stock_admin import StockView
from schema.types import UserError


@strawberry.type(description=(
    "A product and its stock, for admins. Counts are null where the product is not counted: "
    "unlimited (no `stock` in the catalog file), or a bundle (it takes its parts)."))
class AdminProduct:
    sku: strawberry.ID
    name: str
    active: bool
    tracked: bool = strawberry.field(description="Whether this piece's stock is counted.")
    on_hand: int | None = strawberry.field(description="Pieces the shop holds, sold ones gone.")
    reserved: int | None = strawberry.field(description="Held by checkouts not yet paid or expired.")
    available: int | None = strawberry.field(description=(
        "What shoppers can still buy: on hand - reserved (below 0 after on hand was set under what "
        "open checkouts hold); for a bundle, how many its scarcest part allows. Null: unlimited."))
    sold: int | None = strawberry.field(description="Pieces sold since the store began counting.")

    @classmethod
    def of(cls, view: StockView) -> AdminProduct:
        record, product = view.record, view.product
        return cls(sku=strawberry.ID(product.sku), name=product.name, active=product.active,
                   tracked=record is not None, on_hand=record.on_hand if record else None,
                   reserved=record.reserved if record else None,
                   available=record.available if record else view.available,
                   sold=record.sold if record else None)


@strawberry.input
class SetStockInput:
    sku: str
    on_hand: int = strawberry.field(description=(
        "0 to 1,000,000. Checkouts in progress keep what they hold: available = onHand - reserved."))


@strawberry.type
class SetStockPayload:
    product: AdminProduct | None = None
    user_errors: list[UserError]

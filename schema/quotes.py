"""GraphQL types for cart quotes."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

import resolvers.stock as stock_resolvers
from commerce.quotes import Quote as SignedQuote
from schema.types import Money, UserError, money


@strawberry.input(description="One cart line: a SKU and how many.")
class CartItemInput:
    sku: str
    quantity: int = strawberry.field(description="1 to 99; lines with the same SKU are merged.")


@strawberry.input
class CreateCartQuoteInput:
    items: list[CartItemInput] = strawberry.field(description="1 to 50 lines.")


@strawberry.type(description="One priced line of a quote.")
class QuoteItem:
    sku: str
    name: str
    quantity: int
    unit_price: Money = strawberry.field(description="What one unit costs here.")
    total: Money = strawberry.field(description="unitPrice x quantity: what this line charges.")
    discount: Money = strawberry.field(description="Bundle saving on this line (zero if none).")

    @strawberry.field(description=(
        "How many of this SKU can be bought now (null: unlimited). Shown, not reserved: "
        "createCheckoutSession holds the pieces, or says OUT_OF_STOCK."))
    async def available(self, info: Info) -> int | None:
        return await stock_resolvers.available(info.context, self.sku)


@strawberry.type(description=(
    "A cart priced by the server and signed. Pass its signature to createCheckoutSession "
    "before expiresAt. total = subtotal - discount = the sum of the items' totals."
))
class Quote:
    signature: strawberry.ID
    items: list[QuoteItem]
    subtotal: Money = strawberry.field(description="The items at list price, before bundle savings.")
    discount: Money
    total: Money
    expires_at: datetime
    created_at: datetime
    currency: str

    @classmethod
    def of(cls, quote: SignedQuote) -> Quote:
        cart, cur = quote.cart, quote.cart.currency
        return cls(
            signature=strawberry.ID(quote.signature),
            items=[
                QuoteItem(sku=line.sku, name=line.name, quantity=line.quantity,
                          unit_price=money(line.unit_price, cur), total=money(line.total, cur),
                          discount=money(line.discount, cur))
                for line in cart.lines
            ],
            subtotal=money(cart.subtotal, cur), discount=money(cart.discount, cur),
            total=money(cart.total, cur), currency=cur,
            expires_at=_utc(quote.valid_until), created_at=_utc(quote.created_at),
        )


@strawberry.type
class CreateCartQuotePayload:
    quote: Quote | None = None
    user_errors: list[UserError]


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)

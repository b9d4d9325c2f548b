"""GraphQL types for checkout."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import strawberry
from strawberry.types import Info

import resolvers.orders as order_resolvers
from commerce.checkout import SessionView
from schema.orders import Order
from schema.types import Money, UserError, money


@strawberry.enum(description="Stripe's status of a checkout session.")
class CheckoutSessionStatus(Enum):
    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


@strawberry.input
class CreateCheckoutSessionInput:
    quote_signature: strawberry.ID
    email: str | None = strawberry.field(
        default=None, description="A guest's email for the receipt; ignored for signed-in users."
    )


@strawberry.type(description="A Stripe Checkout Session made from a quote.")
class CheckoutSession:
    id: strawberry.ID
    url: str | None = strawberry.field(description="Where to send the shopper to pay; null once closed.")
    status: CheckoutSessionStatus
    expires_at: datetime | None
    total: Money | None = strawberry.field(description="What Stripe charges (with shipping and tax).")
    paid: bool = strawberry.field(description="True once the payment has succeeded.")

    @strawberry.field(description=(
        "The order this session became, once it is paid and recorded; null before. Asking "
        "records it if the webhook has not arrived yet. A signed-in shopper's order needs "
        "their token; a guest's shows email, name and address only to a token with that "
        "verified email (status, number, items and totals to anyone holding the id)."
    ))
    async def order(self, info: Info) -> Order | None:
        if self.status is not CheckoutSessionStatus.COMPLETE:
            return None
        found = await order_resolvers.order_for_session(info.context, self.id)
        return Order.from_record(found.order, personal=found.personal) if found else None

    @classmethod
    def of(cls, view: SessionView) -> CheckoutSession:
        total = money(view.amount_total, view.currency) if view.amount_total is not None and view.currency else None
        return cls(
            id=strawberry.ID(view.id), url=view.url if view.status == "open" else None,
            status=CheckoutSessionStatus(view.status),
            expires_at=datetime.fromtimestamp(view.expires_at, tz=UTC) if view.expires_at else None,
            total=total, paid=view.payment_status == "paid",
        )


@strawberry.type
class CreateCheckoutSessionPayload:
    checkout_session: CheckoutSession | None = None
    user_errors: list[UserError]

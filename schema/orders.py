"""GraphQL types for orders."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import strawberry

from commerce.timeline import timeline
from schema.fulfillment import Fulfillment, OrderEvent
from schema.types import Money, money
from store import records


@strawberry.enum(description="Where an order stands; changes only move forward.")
class OrderStatus(Enum):
    PROCESSING = "PROCESSING"
    PAID = "PAID"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    DISPUTED = "DISPUTED"
    NEEDS_REVIEW = strawberry.enum_value("NEEDS_REVIEW", description=(
        "The payment did not match its quote: the shop checks it before anything ships."))
    OUT_OF_STOCK = strawberry.enum_value("OUT_OF_STOCK", description=(
        "Paid, but the pieces its checkout held were given back (it expired first) or taken by a stock "
        "change, and none is left: the shop refunds it or makes the piece. Never oversold."))


@strawberry.type(description="A postal address.")
class Address:
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None

    @classmethod
    def from_record(cls, address: records.Address | records.ShippingAddress) -> Address:
        return cls(line1=address.line1, line2=address.line2, city=address.city, state=address.state,
                   postal_code=address.postal_code, country=address.country)


@strawberry.type(description="One line of an order, as charged.")
class OrderItem:
    sku: str | None
    name: str
    quantity: int
    unit_price: Money
    total: Money


@strawberry.type(description="A paid (or paying) checkout, recorded from Stripe.")
class Order:
    id: strawberry.ID = strawberry.field(description="The Stripe checkout session id.")
    order_number: str = strawberry.field(description="BC- and the id's last 8 characters.")
    status: OrderStatus
    items: list[OrderItem]
    subtotal: Money
    discount: Money
    shipping: Money
    tax: Money
    total: Money
    refunded: Money = strawberry.field(description="Refunds that count: pending or succeeded, not failed.")
    charged_back: Money = strawberry.field(
        description="Taken back by the cardholder's bank through lost disputes (not a refund).")
    email: str | None
    shipping_name: str | None
    shipping_address: Address | None
    created_at: datetime
    updated_at: datetime
    fulfillment: Fulfillment = strawberry.field(description="Shipping, apart from the payment status.")
    record: strawberry.Private[records.Order]
    staff: strawberry.Private[bool]

    @strawberry.field(description=(
        "What happened to the order, oldest first, each event once. Shoppers see theirs "
        "(placed, paid, payment failed, refunded, shipped, delivered, cancelled, emails); "
        "staff also see reviews, failed refunds and disputes."))
    def events(self) -> list[OrderEvent]:
        currency = self.record.currency
        return [OrderEvent.from_record(e, currency) for e in timeline(self.record, staff=self.staff)]

    @classmethod
    def from_record(cls, order: records.Order, *, personal: bool = True, staff: bool = False) -> Order:
        """The order; without `personal` (not its owner asking), no email, name, address or
        tracking. `staff` (an admin asking): every event of its timeline."""
        cur = order.currency
        address = order.shipping_address if personal else None
        return cls(
            id=strawberry.ID(order.order_id), order_number=order.order_number,
            status=OrderStatus(order.status),
            items=[OrderItem(sku=line.sku, name=line.name or "", quantity=line.quantity,
                             unit_price=money(line.unit_price, cur), total=money(line.total, cur))
                   for line in order.items],
            subtotal=money(order.subtotal, cur), discount=money(order.discount, cur),
            shipping=money(order.shipping, cur), tax=money(order.tax, cur),
            total=money(order.total, cur), refunded=money(order.refunded, cur),
            charged_back=money(order.charged_back, cur),
            email=order.email if personal else None,
            shipping_name=address.name if address else None,
            shipping_address=Address.from_record(address) if address else None,
            created_at=_utc(order.created_at), updated_at=_utc(order.updated_at),
            fulfillment=Fulfillment.from_record(order.fulfillment, personal=personal),
            record=order, staff=staff,
        )


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)

"""GraphQL types for orders."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any

import strawberry

from schema.types import Money, money


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


@strawberry.type(description="A postal address.")
class Address:
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


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

    @classmethod
    def of(cls, item: dict[str, Any], *, personal: bool = True) -> Order:
        """The order; without `personal` (not its owner asking), no email, name or address."""
        cur = item["currency"]
        address = item.get("shippingAddress") if personal else None
        return cls(
            id=strawberry.ID(item["orderId"]), order_number=item["orderNumber"],
            status=OrderStatus(item["status"]),
            items=[OrderItem(sku=line["sku"], name=line["name"] or "", quantity=line["quantity"],
                             unit_price=money(line["unitPrice"], cur), total=money(line["total"], cur))
                   for line in item["items"]],
            subtotal=money(item["subtotal"], cur), discount=money(item["discount"], cur),
            shipping=money(item["shipping"], cur), tax=money(item["tax"], cur),
            total=money(item["total"], cur), refunded=money(item["refunded"], cur),
            charged_back=money(item.get("chargedBack", 0), cur),
            email=item.get("email") if personal else None,
            shipping_name=address.get("name") if address else None,
            shipping_address=Address(
                line1=address.get("line1"), line2=address.get("line2"), city=address.get("city"),
                state=address.get("state"), postal_code=address.get("postalCode"),
                country=address.get("country"),
            ) if address else None,
            created_at=_utc(item["createdAt"]), updated_at=_utc(item["updatedAt"]),
        )


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)

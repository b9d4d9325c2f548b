"""GraphQL types for an order's fulfilment and timeline, and the inputs of the shop's
order mutations (their payloads: schema/order_changes.py). Thin: commerce/fulfillment.py,
commerce/refunds.py and commerce/timeline.py hold the rules."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import strawberry

from payments import Refund as RefundView
from schema.types import Money, money
from store import records


@strawberry.enum(description="Where an order's goods are; apart from its payment status, and only moves forward.")
class FulfillmentStatus(Enum):
    UNFULFILLED = "UNFULFILLED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = strawberry.enum_value("CANCELLED", description="Cancelled before shipping (cancelOrder).")


@strawberry.type(description="An order's shipment.")
class Fulfillment:
    status: FulfillmentStatus
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None

    @classmethod
    def from_record(cls, fulfillment: records.Fulfillment, *, personal: bool = True) -> Fulfillment:
        """Without `personal` (not its owner asking), the status and times only."""
        return cls(status=FulfillmentStatus(fulfillment.status), shipped_at=_utc(fulfillment.shipped_at),
                   delivered_at=_utc(fulfillment.delivered_at), cancelled_at=_utc(fulfillment.cancelled_at),
                   carrier=fulfillment.carrier if personal else None,
                   tracking_number=fulfillment.tracking_number if personal else None,
                   tracking_url=fulfillment.tracking_url if personal else None)


@strawberry.enum(description="What happened to an order.")
class OrderEventKind(Enum):
    PLACED = "PLACED"
    PAID = "PAID"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    REFUNDED = strawberry.enum_value("REFUNDED", description="A refund (amount: how much).")
    REFUND_FAILED = strawberry.enum_value("REFUND_FAILED", description="A refund that failed (staff only).")
    DISPUTE_OPENED = strawberry.enum_value("DISPUTE_OPENED", description="Staff only.")
    DISPUTE_WON = strawberry.enum_value("DISPUTE_WON", description="Staff only.")
    DISPUTE_LOST = strawberry.enum_value("DISPUTE_LOST", description="Staff only.")
    NEEDS_REVIEW = strawberry.enum_value("NEEDS_REVIEW", description="Staff only.")
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    EMAIL_SENT = strawberry.enum_value("EMAIL_SENT", description="An email to the shopper (detail: which).")


@strawberry.type(description="One entry of an order's timeline.")
class OrderEvent:
    kind: OrderEventKind
    at: datetime
    amount: Money | None = strawberry.field(description="Refunds and disputes: how much.")
    detail: str | None = strawberry.field(
        description="Shipped: carrier and tracking number; cancelled: the reason; email sent: which email.")

    @classmethod
    def from_record(cls, event: records.OrderEvent, currency: str) -> OrderEvent:
        return cls(kind=OrderEventKind(event.kind), at=datetime.fromtimestamp(event.at, tz=UTC),
                   amount=money(event.amount, currency) if event.amount is not None else None,
                   detail=event.detail)


@strawberry.enum(description="Stripe's refund reasons.")
class RefundReason(Enum):
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


@strawberry.type(description="A refund as Stripe made it.")
class Refund:
    id: strawberry.ID
    amount: Money
    status: str = strawberry.field(description="Stripe's: pending, succeeded, failed, canceled, requires_action.")

    @classmethod
    def of(cls, refund: RefundView, currency: str) -> Refund:
        return cls(id=strawberry.ID(refund.id or ""), amount=money(refund.amount or 0, currency),
                   status=refund.status or "")


@strawberry.input
class FulfillOrderInput:
    order_id: strawberry.ID
    carrier: str = strawberry.field(description="1 to 100 characters.")
    tracking_number: str = strawberry.field(description="1 to 100 characters.")
    tracking_url: str | None = strawberry.field(default=None, description="An https:// (or http://) URL.")


@strawberry.input
class MarkDeliveredInput:
    order_id: strawberry.ID


@strawberry.input
class RefundOrderInput:
    order_id: strawberry.ID
    amount: int = strawberry.field(description="Minor units, at most what is left to refund.")
    reason: RefundReason | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=(
        "One per refund you mean (make it when the refund form opens): the same key is the same refund. "
        "Without it, identical requests in flight together refund once."))


@strawberry.input
class CancelOrderInput:
    order_id: strawberry.ID
    reason: RefundReason | None = None


def _utc(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch is not None else None


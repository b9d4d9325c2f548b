"""Payloads of the shop's order mutations: fulfillOrder, markDelivered, refundOrder, cancelOrder."""

from __future__ import annotations

import strawberry

from schema.fulfillment import Refund
from schema.orders import Order
from schema.types import UserError


@strawberry.type
class FulfillOrderPayload:
    order: Order | None = None
    user_errors: list[UserError]


@strawberry.type
class MarkDeliveredPayload:
    order: Order | None = None
    user_errors: list[UserError]


@strawberry.type
class RefundOrderPayload:
    order: Order | None = None
    refund: Refund | None = None
    user_errors: list[UserError]


@strawberry.type
class CancelOrderPayload:
    order: Order | None = None
    refund: Refund | None = strawberry.field(default=None, description="Null when nothing was left to refund.")
    user_errors: list[UserError]

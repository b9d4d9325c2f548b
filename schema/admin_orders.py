"""GraphQL types for the shop's order listing (adminOrders) and its filter."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

import resolvers.admin_orders as admin_order_resolvers
from commerce.order_listing import OrderFilter
from schema.fulfillment import FulfillmentStatus
from schema.orders import Order, OrderStatus
from schema.types import PageInfo


@strawberry.input(description="Every field narrows the listing; all are optional.")
class AdminOrdersFilter:
    status: OrderStatus | None = None
    fulfillment_status: FulfillmentStatus | None = None
    email: str | None = strawberry.field(default=None, description="The order's email, any case.")
    created_from: datetime | None = strawberry.field(default=None, description="Inclusive; with a time zone.")
    created_to: datetime | None = strawberry.field(default=None, description="Exclusive; with a time zone.")

    def parsed(self) -> OrderFilter:
        return admin_order_resolvers.order_filter(
            self.status.value if self.status else None,
            self.fulfillment_status.value if self.fulfillment_status else None,
            self.email, self.created_from, self.created_to)


@strawberry.type
class AdminOrderEdge:
    cursor: str
    node: Order


@strawberry.type(description="A page of every order, newest first.")
class AdminOrderConnection:
    edges: list[AdminOrderEdge]
    page_info: PageInfo
    filter: strawberry.Private[OrderFilter]

    @strawberry.field(description=(
        "Orders matching the filter (all pages). Counted when asked: one count per index "
        "partition the filter reads, O(matching orders) on DynamoDB."))
    async def total_count(self, info: Info) -> int:
        return await admin_order_resolvers.total_count(info.context, self.filter)

"""GraphQL types for the shopper's profile and order history."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import resolvers.orders as order_resolvers
from schema.errors import BAD_USER_INPUT, gateway_error
from schema.orders import Address, Order
from schema.types import PageInfo, UserError
from store import BadCursor, records


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type(description="A page of orders, newest first.")
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo


@strawberry.type(description="The signed-in shopper.")
class Profile:
    user_id: strawberry.ID
    email: str | None
    display_name: str | None
    shipping_address: Address | None

    @strawberry.field(description="The shopper's orders, newest first; first is 1 to 100.")
    async def orders(self, info: Info, first: int | None = 20, after: str | None = None) -> OrderConnection:
        try:
            page = await order_resolvers.orders_page(
                info.context, str(self.user_id), 20 if first is None else first, after)
        except (order_resolvers.BadFirst, BadCursor) as exc:
            raise gateway_error(BAD_USER_INPUT, str(exc)) from None
        edges = [OrderEdge(cursor=c, node=Order.from_record(o)) for o, c in zip(page.orders, page.cursors, strict=True)]
        return OrderConnection(edges=edges, page_info=PageInfo(
            has_next_page=page.has_next_page, end_cursor=page.end_cursor))

    @classmethod
    def from_record(cls, profile: records.Profile) -> Profile:
        address = profile.shipping_address
        return cls(user_id=strawberry.ID(profile.user_id), email=profile.email, display_name=profile.display_name,
                   shipping_address=Address.from_record(address) if address else None)


@strawberry.input
class AddressInput:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2, e.g. US.")


@strawberry.input(description="Only the fields given change; null clears one.")
class UpdateProfileInput:
    display_name: str | None = strawberry.UNSET
    shipping_address: AddressInput | None = strawberry.UNSET


@strawberry.type
class UpdateProfilePayload:
    profile: Profile | None = None
    user_errors: list[UserError]

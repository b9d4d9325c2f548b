from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commerce.orders import order_from_session
from context import Context
from loaders import PageKey
from resolvers.checkout import valid_session_id
from resolvers.pagination import MAX_FIRST, open_cursor, sign_cursor
from store.base import encode_cursor



class BadFirst(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[dict[str, Any]]
    cursors: list[str]
    has_next_page: bool


def owns(context: Context, order: dict[str, Any]) -> bool:
    """The viewer's own order, or a guest order placed with their verified email."""
    viewer = context.viewer
    if viewer is None:
        return False
    if order["userId"] == viewer.user_id:
        return True
    return bool(order.get("guest") and viewer.email_verified and viewer.email and order.get("email")
                and order["email"].lower() == viewer.email.lower())


async def order(context: Context, order_id: str) -> dict[str, Any] | None:
    """One of the viewer's orders; for anyone else, the same None as a missing order."""
    if context.viewer is None or not valid_session_id(order_id):  # an order's id is its session's
        return None
    found = await context.loaders.order_by_id.load(order_id)
    return found if found is not None and owns(context, found) else None


async def orders_page(context: Context, user_id: str, first: int, after: str | None) -> OrderPage:
    if not 1 <= first <= MAX_FIRST:
        raise BadFirst(f"first must be between 1 and {MAX_FIRST}")
    secret = context.services.cursor_secret
    inner = open_cursor(secret, user_id, after) if after is not None else None
    page = await context.loaders.order_page_by_user.load(PageKey(user_id, first, inner))
    # Each edge's cursor continues after that edge: the store cursor is its sort key.
    cursors = [sign_cursor(secret, user_id, encode_cursor(o["SK"])) for o in page.items]
    return OrderPage(page.items, cursors, page.cursor is not None)


async def order_for_session(context: Context, session_id: str) -> dict[str, Any] | None:
    """The order a completed session became, recorded now if the webhook has not yet.
    A signed-in shopper's order is shown only to them; a guest's to whoever holds the
    session id (Stripe's success-page redirect gives it to the buyer)."""
    services = context.services
    found = await order_from_session(services.store, services.payments, session_id)
    if found is None:
        return None
    if not found["guest"] and not owns(context, found):
        return None
    return found

"""adminOrders, adminOrder and guestOrder: the shop's listing (commerce/order_listing.py) and
a guest's lookup by order number and email. The caller (schema) has checked the role for
the admin fields; inputs are checked here, so nothing unchecked reaches the store."""

from __future__ import annotations

import re
from datetime import datetime

from commerce.order_listing import Listing, OrderFilter, count_orders, list_orders

__all__ = ["BadInput", "OrderFilter", "admin_order", "admin_orders", "guest_order", "order_filter", "total_count"]
from commerce.orders import shown
from resolvers.checkout import valid_session_id
from resolvers.pagination import MAX_FIRST, open_cursor, sign_cursor
from store import BadCursor, keys
from store.records import STATUSES, Order, readable
from store.records.fulfillment import FULFILLMENT_STATUSES
from web.context import Context
from web.ratelimit import client_ip, hit

CURSOR_SCOPE = "admin-orders"  # cursors are signed for this listing, not for any user's
POSITION = re.compile(r"^\d{11}#[A-Za-z0-9_\-]{1,255}$")
ORDER_NUMBER = re.compile(r"^BC-[A-Z0-9_]{8}$")
EARLIEST, LATEST = 0, 10**11 - 1  # what an 11-digit position holds
GUEST_PAGES = 10  # 100 orders a page: the most one guest lookup reads (1,000 orders of one email)


class BadInput(ValueError):
    """An argument refused before anything is read: BAD_USER_INPUT with this message."""


def _instant(value: datetime | None, name: str) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise BadInput(f"{name} must be an instant with a time zone, e.g. 2026-12-03T00:00:00Z.")
    epoch = int(value.timestamp())
    if not EARLIEST <= epoch <= LATEST:
        raise BadInput(f"{name} is out of range.")
    return epoch


def order_filter(status: str | None, fulfillment: str | None, email: str | None,
                 created_from: datetime | None, created_to: datetime | None) -> OrderFilter:
    if status is not None and status not in STATUSES:
        raise BadInput("status is not an order status.")
    if fulfillment is not None and fulfillment not in FULFILLMENT_STATUSES:
        raise BadInput("fulfillmentStatus is not a fulfilment status.")
    if email is not None and (not email.strip() or not keys.fits(email, keys.MAX_EMAIL_BYTES)):
        raise BadInput(f"email must be 1 to {keys.MAX_EMAIL_BYTES} bytes.")
    start, end = _instant(created_from, "createdFrom"), _instant(created_to, "createdTo")
    if start is not None and end is not None and start >= end:
        raise BadInput("createdFrom must be before createdTo.")
    return OrderFilter(status, fulfillment, email.strip() if email else None, start, end)


async def admin_orders(context: Context, f: OrderFilter, first: int, after: str | None) -> tuple[Listing, list[str]]:
    """The page, and each order's signed cursor."""
    if not 1 <= first <= MAX_FIRST:
        raise BadInput(f"first must be between 1 and {MAX_FIRST}")
    secret = context.services.cursor_secret
    position = None
    if after is not None:
        try:
            position = open_cursor(secret, CURSOR_SCOPE, after)
        except BadCursor as exc:
            raise BadInput(str(exc)) from None
        if not POSITION.match(position):
            raise BadInput("cursor is not valid")
    listing = await list_orders(context.services.store, f, first, position)
    listing = Listing([shown(o) for o in listing.orders], listing.positions, listing.has_next_page,
                      sign_cursor(secret, CURSOR_SCOPE, listing.end) if listing.end else None)
    return listing, [sign_cursor(secret, CURSOR_SCOPE, p) for p in listing.positions]


async def total_count(context: Context, f: OrderFilter) -> int:
    return await count_orders(context.services.store, f)


async def admin_order(context: Context, order_id: str) -> Order | None:
    """Any order by id, from the store (never Stripe); None for an id that is not one."""
    if not valid_session_id(order_id):
        return None
    stored = await context.loaders.order_by_id.load(order_id)
    return shown(stored.order) if stored.order is not None else None


async def guest_order(context: Context, order_number: str, email: str) -> Order | None:
    """A guest's order when the number and the email both match; the same None otherwise.
    Counted against the client IP first (every attempt, well formed or not); then one read
    of the email's orders (GUEST#{email}), whether or not the number exists: a wrong email
    and an unknown number cost the same, and neither calls Stripe."""
    services = context.services
    await hit(services.store, client_ip(context.request, services.trusted_proxies), "guest-order",
              services.settings.rate_limit_guest_orders)
    number = order_number.strip().upper() if isinstance(order_number, str) else ""
    if not ORDER_NUMBER.match(number):
        raise BadInput("orderNumber looks like BC-1A2B3C4D.")
    if not email.strip() or not keys.fits(email, keys.MAX_EMAIL_BYTES) or "@" not in email:
        raise BadInput(f"email must be an email address of at most {keys.MAX_EMAIL_BYTES} bytes.")
    partition, cursor = keys.guest_partition(email), None
    for _ in range(GUEST_PAGES):
        page = await services.store.query(partition, prefix=keys.ORDER_PREFIX, limit=100, cursor=cursor)
        for item in page.items:
            order = readable(item)
            if order is not None and order.guest and order.order_number == number:
                return shown(order)
        if (cursor := page.cursor) is None:
            break
    return None




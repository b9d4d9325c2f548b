from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commerce.orders import guest_email_of, order_from_recorded_session
from commerce.stored_orders import readable
from web.context import Context
from loaders import PageKey
from resolvers import limits
from resolvers.checkout import valid_session_id
from resolvers.pagination import MAX_FIRST, open_cursor, sign_cursor
from store import keys
from store.base import encode_cursor


class BadFirst(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[dict[str, Any]]
    cursors: list[str]
    has_next_page: bool
    end_cursor: str | None  # after the last item read (which may have been left out)


def owns(context: Context, order: dict[str, Any]) -> bool:
    """The viewer's own order, or a guest order placed with their verified email. A guest
    order is never anyone's by user id: a `sub` may equal a guest's email."""
    viewer = context.viewer
    if viewer is None:
        return False
    if order.get("guest"):
        return verified_email_matches(context, guest_email_of(order)) or verified_email_matches(
            context, order.get("email"))
    return order["userId"] == viewer.user_id


def verified_email_matches(context: Context, email: str | None) -> bool:
    viewer = context.viewer
    return bool(viewer is not None and viewer.email_verified and viewer.email and email
                and keys.guest_email(email) == keys.guest_email(viewer.email))


def may_fetch(context: Context, record: dict[str, Any]) -> bool:
    """Whether the viewer is the shopper a session this gateway made was for: only then
    may a missing order be fetched from Stripe on their behalf."""
    viewer = context.viewer
    if viewer is None:
        return False
    if record.get("userId"):
        return record["userId"] == viewer.user_id
    return verified_email_matches(context, record.get("guestEmail"))


async def order(context: Context, order_id: str) -> dict[str, Any] | None:
    """One of the viewer's orders; for anyone else, the same None as a missing order.
    Missing from the store, it is fetched from Stripe only for a session this gateway
    made for this viewer, within the request's and the viewer's Stripe budgets."""
    if context.viewer is None or not valid_session_id(order_id):  # an order's id is its session's
        return None
    found, record = await context.loaders.order_by_id.load(order_id)
    if found is None and record is not None and may_fetch(context, record):
        await limits.stripe_read(context)
        services = context.services
        found = await order_from_recorded_session(services.store, services.payments, order_id,
                                                  existing=None, record=record)
    found = readable(found) if found is not None else None
    return found if found is not None and owns(context, found) else None


async def orders_page(context: Context, user_id: str, first: int, after: str | None) -> OrderPage:
    if not 1 <= first <= MAX_FIRST:
        raise BadFirst(f"first must be between 1 and {MAX_FIRST}")
    secret = context.services.cursor_secret
    inner = open_cursor(secret, user_id, after) if after is not None else None
    page = await context.loaders.order_page_by_user.load(PageKey(user_id, first, inner))
    # Each edge's cursor continues after that edge: the store cursor is its sort key.
    cursors = [sign_cursor(secret, user_id, encode_cursor(o["SK"])) for o in page.items]
    # A guest order listed here by an earlier version (USER#{email}) is not this user's,
    # whatever their sub: it reaches an account only through the verified-email claim.
    # An item that cannot be read is logged and left out: it never takes the page down.
    shown = [(order, c) for o, c in zip(page.items, cursors)
             if not o.get("guest") and (order := readable(o)) is not None]
    return OrderPage([o for o, _ in shown], [c for _, c in shown], page.cursor is not None,
                     cursors[-1] if cursors else None)


@dataclass(frozen=True, slots=True)
class SessionOrder:
    order: dict[str, Any]
    personal: bool  # the owner is asking: email and address may be shown


async def order_for_session(context: Context, session_id: str) -> SessionOrder | None:
    """The order a completed session became, recorded now if the webhook has not yet.
    A signed-in shopper's order is shown only to them. A guest's is shown to whoever holds
    the session id (Stripe's success-page redirect gives it to the buyer, but it also sits
    in browser history and referrers), without email or address unless the viewer is its
    owner (a verified email)."""
    services = context.services
    order_key, record_key = keys.order_pointer(session_id), keys.session_pointer(session_id)
    stored = await services.store.batch_get([order_key, record_key])
    found, record = stored.get(order_key), stored.get(record_key)
    if found is None:
        if record is None:
            return None
        await limits.stripe_read(context)
        found = await order_from_recorded_session(services.store, services.payments, session_id,
                                                  existing=None, record=record)
    found = readable(found) if found is not None else None
    if found is None:
        return None
    if owns(context, found):
        return SessionOrder(found, personal=True)
    return SessionOrder(found, personal=False) if found["guest"] else None

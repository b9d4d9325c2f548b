from __future__ import annotations

from dataclasses import dataclass

from commerce.orders import order_from_recorded_session, shown
from loaders import PageKey
from resolvers import limits
from resolvers.checkout import valid_session_id
from resolvers.pagination import MAX_FIRST, open_cursor, sign_cursor
from store import keys
from store.records import CheckoutRecord, Order
from web.context import Context


class BadFirst(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[Order]
    cursors: list[str]
    has_next_page: bool
    end_cursor: str | None  # after the last item read (which may have been left out)


def owns(context: Context, order: Order) -> bool:
    """The viewer's own order, or a guest order placed with their verified email. A guest
    order is never anyone's by user id: a `sub` may equal a guest's email."""
    viewer = context.viewer
    if viewer is None:
        return False
    if order.guest:
        return verified_email_matches(context, order.filed_email) or verified_email_matches(context, order.email)
    return order.user_id == viewer.user_id


def verified_email_matches(context: Context, email: str | None) -> bool:
    viewer = context.viewer
    return bool(viewer is not None and viewer.email_verified and viewer.email and email
                and keys.guest_email(email) == keys.guest_email(viewer.email))


def may_fetch(context: Context, record: CheckoutRecord) -> bool:
    """Whether the viewer is the shopper a session this gateway made was for: only then
    may a missing order be fetched from Stripe on their behalf."""
    viewer = context.viewer
    if viewer is None:
        return False
    if record.user_id:
        return record.user_id == viewer.user_id
    return verified_email_matches(context, record.guest_email)


async def order(context: Context, order_id: str) -> Order | None:
    """One of the viewer's orders; for anyone else, the same None as a missing order.
    Missing from the store, it is fetched from Stripe only for a session this gateway
    made for this viewer, within the request's and the viewer's Stripe budgets."""
    if context.viewer is None or not valid_session_id(order_id):  # an order's id is its session's
        return None
    stored = await context.loaders.order_by_id.load(order_id)
    found = stored.order
    if not stored.stored and stored.record is not None and may_fetch(context, stored.record):
        await limits.stripe_read(context)
        services = context.services
        found = await order_from_recorded_session(services.store, services.payments, order_id,
                                                  existing=None, record=stored.record)
    return shown(found) if found is not None and owns(context, found) else None


async def orders_page(context: Context, user_id: str, first: int, after: str | None) -> OrderPage:
    if not 1 <= first <= MAX_FIRST:
        raise BadFirst(f"first must be between 1 and {MAX_FIRST}")
    secret = context.services.cursor_secret
    inner = open_cursor(secret, user_id, after) if after is not None else None
    listed = await context.loaders.order_page_by_user.load(PageKey(user_id, first, inner))
    # Each edge's cursor continues after that edge.
    cursors = [sign_cursor(secret, user_id, cursor) for cursor in listed.cursors]
    # A guest order listed here by an earlier version (USER#{email}) is not this user's,
    # whatever their sub: it reaches an account only through the verified-email claim.
    # An item that cannot be read was logged and is left out: it never takes the page down.
    kept = [(shown(o), c) for o, c in zip(listed.orders, cursors, strict=True) if o is not None and not o.guest]
    return OrderPage([o for o, _ in kept], [c for _, c in kept], listed.cursor is not None,
                     cursors[-1] if cursors else None)


@dataclass(frozen=True, slots=True)
class SessionOrder:
    order: Order
    personal: bool  # the owner is asking: email and address may be shown


async def order_for_session(context: Context, session_id: str) -> SessionOrder | None:
    """The order a completed session became, recorded now if the webhook has not yet.
    A signed-in shopper's order is shown only to them. A guest's is shown to whoever holds
    the session id (Stripe's success-page redirect gives it to the buyer, but it also sits
    in browser history and referrers), without email or address unless the viewer is its
    owner (a verified email)."""
    stored = await context.loaders.order_by_id.load(session_id)
    found = stored.order
    if not stored.stored:
        if stored.record is None:
            return None
        await limits.stripe_read(context)
        services = context.services
        found = await order_from_recorded_session(services.store, services.payments, session_id,
                                                  existing=None, record=stored.record)
    if found is None:
        return None
    if owns(context, found):
        return SessionOrder(shown(found), personal=True)
    return SessionOrder(shown(found), personal=False) if found.guest else None

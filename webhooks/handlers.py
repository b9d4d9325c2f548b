"""The map "event type → commerce function". Each function takes the event's view, asks
commerce/ to act on what the event is about (commerce reads it afresh from Stripe: the
payload only says where to look) and says what came of it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from commerce.charges import charge_changed, dispute_changed
from commerce.checkout import session_expired
from commerce.facts import Facts
from commerce.holds import release_session_hold
from commerce.orders import order_from_session
from payments import Event, NotFound, Payments
from store import Store
from store.records import Order

log = logging.getLogger("gateway.webhooks")

Outcome = str  # "applied" | "ignored" | "foreign"


def _made(order: Order | None) -> Outcome:
    return "applied" if order is not None else "foreign"


def _subject(event: Event) -> str:
    """The id of what the event is about (apply_event dispatches only events that have one)."""
    assert event.object_id is not None
    return event.object_id


async def session_completed(store: Store, payments: Payments, event: Event) -> Outcome:
    return _made(await order_from_session(store, payments, _subject(event)))


async def session_payment_failed(store: Store, payments: Payments, event: Event) -> Outcome:
    order = await order_from_session(store, payments, _subject(event), facts=Facts(payment_failed=True))
    if order is not None and not order.facts.paid:
        await release_session_hold(store, _subject(event), why="delayed payment failed")
    return _made(order)


async def session_expired_unpaid(store: Store, payments: Payments, event: Event) -> Outcome:
    return "applied" if await session_expired(store, _subject(event)) else "foreign"


async def charge_refunded(store: Store, payments: Payments, event: Event) -> Outcome:
    return _made(await charge_changed(store, payments, _subject(event)))


async def refund_changed(store: Store, payments: Payments, event: Event) -> Outcome:
    """refund.created / updated / failed and charge.refund.updated: the charge lists every
    refund with its status, so a refund that failed stops counting."""
    if event.charge is None:
        return "ignored"
    return _made(await charge_changed(store, payments, event.charge))


async def dispute_event(store: Store, payments: Payments, event: Event) -> Outcome:
    return _made(await dispute_changed(store, payments, _subject(event)))


Handler = Callable[[Store, Payments, Event], Awaitable[Outcome]]

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": session_completed,
    "checkout.session.async_payment_succeeded": session_completed,
    "checkout.session.async_payment_failed": session_payment_failed,
    "checkout.session.expired": session_expired_unpaid,
    "charge.refunded": charge_refunded,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "refund.failed": refund_changed,
    "charge.refund.updated": refund_changed,
    "charge.dispute.created": dispute_event,
    "charge.dispute.updated": dispute_event,
    "charge.dispute.closed": dispute_event,
}


async def apply_event(store: Store, payments: Payments, event: Event) -> Outcome:
    """What the event's handler made of it; "ignored" for a type not handled."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        log.debug("ignored event %s of type %s", event.id, event.type)
        return "ignored"
    if event.object_id is None:
        log.warning("event %s of type %s has no object id: acknowledged, nothing to do", event.id, event.type)
        return "ignored"
    try:
        return await handler(store, payments, event)
    except NotFound:  # not in this Stripe account: not ours
        return "foreign"

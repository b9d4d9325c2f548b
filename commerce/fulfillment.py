"""Fulfilment: shipping a paid order and its delivery, apart from its payment status.

    UNFULFILLED ──fulfillOrder──▶ SHIPPED ──markDelivered──▶ DELIVERED
         └──────cancelOrder─────▶ CANCELLED  (commerce/refunds.py: with its refund)

Forward only. Shipping again while SHIPPED corrects the carrier and tracking (a typo in
the number is common; the shipping time and the `shipped` event stay the first ones);
the same details again write nothing. Delivered again is a no-op, as is cancelled again.
A DELIVERED or CANCELLED order never ships; an UNFULFILLED one is not delivered unshipped.

Only a paid order ships: its payment status, from its facts (never a status set by hand),
must be PAID or PARTIALLY_REFUNDED (part refunded, the rest still ships: an item out of
stock is refunded, the others sent). REFUNDED, DISPUTED (the money is held),
PROCESSING, PAYMENT_FAILED and NEEDS_REVIEW (the shop checks it first) are refused.

Each move is a versioned write of the order (store.records.update_record) that changes
only `fulfillment` and `events`: payment facts merged concurrently (commerce/orders.py
apply_facts, which changes only facts and status) are kept by the retry, and the check is
made again on the order as re-read, so a refund landing first is honoured. The listing
copy follows (`project`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

from commerce.emails import queue_due_messages
from commerce.errors import ErrorCode, Problem
from commerce.orders import find_order, order_status, project
from commerce.timeline import with_events
from payments import SESSION_ID
from store import Store
from store.base import now_epoch
from store.records import Fulfillment, Order, OrderEvent, Unreadable, update_record
from store.records.fulfillment import CANCELLED, DELIVERED, SHIPPED, UNFULFILLED

SHIPPABLE = frozenset({"PAID", "PARTIALLY_REFUNDED"})
MAX_CARRIER, MAX_TRACKING_NUMBER, MAX_TRACKING_URL = 100, 100, 2000


class Refusal(Exception):
    """A move the order's current state does not allow: nothing was written."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _text(value: str, name: str, most: int, problems: list[Problem], *, required: bool = True) -> str | None:
    cleaned = value.strip()
    if not cleaned:
        if required:
            problems.append(Problem((name,), ErrorCode.INVALID_INPUT, f"{name} must not be empty."))
        return None
    if len(cleaned) > most or not cleaned.isprintable():
        problems.append(Problem((name,), ErrorCode.INVALID_INPUT,
                                f"{name} must be printable text of at most {most} characters."))
        return None
    return cleaned


def tracking_url_problem(url: str) -> str | None:
    if len(url) > MAX_TRACKING_URL or not url.isprintable() or any(ch.isspace() for ch in url):
        return f"trackingUrl must be a URL of at most {MAX_TRACKING_URL} characters, without spaces."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not one)
    except ValueError:
        return "trackingUrl is not a URL."
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "trackingUrl must be an https:// (or http://) URL with a host."
    return None


def order_id_problem(order_id: str) -> Problem | None:
    if not SESSION_ID.match(order_id):
        return Problem(("orderId",), ErrorCode.INVALID_INPUT, "orderId is not an order's id.")
    return None


async def load(store: Store, order_id: str) -> Order | Problem:
    problem = order_id_problem(order_id)
    if problem is not None:
        return problem
    try:
        order = await find_order(store, order_id)
    except Unreadable:
        order = None  # logged by whoever reads it next for a page; a person must look at it
    if order is None or order.legacy:
        return Problem(("orderId",), ErrorCode.ORDER_NOT_FOUND, "There is no such order.")
    return order


async def move(store: Store, order: Order, step: Callable[[Order, int], Order | None]) -> Order | Problem:
    """One versioned write of `step(current, now)` (None: nothing to do; Refusal: not allowed)."""
    try:
        updated = await update_record(store, order, lambda current: step(current, now_epoch()))
    except Refusal as refused:
        return refused.problem
    await project(store, updated)
    await queue_due_messages(store, updated)  # the shipping notice, in the step that ships
    return updated


async def fulfil(store: Store, order_id: str, *, carrier: str, tracking_number: str,
                 tracking_url: str | None) -> Order | list[Problem]:
    """fulfillOrder: the order SHIPPED with its carrier and tracking."""
    problems: list[Problem] = []
    carrier_ = _text(carrier, "carrier", MAX_CARRIER, problems)
    number = _text(tracking_number, "trackingNumber", MAX_TRACKING_NUMBER, problems)
    url = tracking_url.strip() if tracking_url is not None else None
    if url:
        why = tracking_url_problem(url)
        if why:
            problems.append(Problem(("trackingUrl",), ErrorCode.INVALID_INPUT, why))
    problem = order_id_problem(order_id)
    if problems or problem:
        return [p for p in (problem,) if p] + problems
    found = await load(store, order_id)
    if isinstance(found, Problem):
        return [found]

    def ship(current: Order, now: int) -> Order | None:
        state = current.fulfillment
        if state.status in (DELIVERED, CANCELLED):
            raise Refusal(Problem(None, ErrorCode.FULFILLMENT_NOT_ALLOWED,
                                  f"This order is {state.status.lower()}: it cannot ship."))
        payment = order_status(current, current.facts)
        if payment not in SHIPPABLE:
            raise Refusal(Problem(None, ErrorCode.ORDER_NOT_SHIPPABLE,
                                  f"Only paid orders ship; this one is {payment}."))
        shipped = Fulfillment(SHIPPED, state.shipped_at or now, None, carrier_, number, url or None)
        if shipped == state:
            return None
        event = OrderEvent("SHIPPED", shipped.shipped_at or now, detail=f"{carrier_} {number}")
        return with_events(current, replace(current, fulfillment=shipped), {"shipped": event})

    moved = await move(store, found, ship)
    return [moved] if isinstance(moved, Problem) else moved


async def deliver(store: Store, order_id: str) -> Order | list[Problem]:
    """markDelivered: a SHIPPED order DELIVERED (again: nothing changes)."""
    found = await load(store, order_id)
    if isinstance(found, Problem):
        return [found]

    def delivered(current: Order, now: int) -> Order | None:
        state = current.fulfillment
        if state.status == DELIVERED:
            return None
        if state.status != SHIPPED:
            raise Refusal(Problem(None, ErrorCode.FULFILLMENT_NOT_ALLOWED,
                                  f"This order is {state.status.lower()}: only a shipped order is delivered."))
        return with_events(current, replace(current, fulfillment=replace(state, status=DELIVERED, delivered_at=now)),
                           {"delivered": OrderEvent("DELIVERED", now)})

    moved = await move(store, found, delivered)
    return [moved] if isinstance(moved, Problem) else moved


def cancelled(reason: str | None) -> Callable[[Order, int], Order | None]:
    """The step of cancelOrder: an unshipped order CANCELLED (again: nothing changes)."""
    def cancel(current: Order, now: int) -> Order | None:
        state = current.fulfillment
        if state.status == CANCELLED:
            return None
        if state.status != UNFULFILLED:
            raise Refusal(Problem(None, ErrorCode.ORDER_ALREADY_SHIPPED,
                                  f"This order is {state.status.lower()}: refund it instead of cancelling it."))
        event = OrderEvent("CANCELLED", now, detail=reason)
        return with_events(current, replace(current, fulfillment=Fulfillment(CANCELLED, cancelled_at=now)),
                           {"cancelled": event})
    return cancel

"""Where checkout and orders meet stock (commerce/stock.py): a checkout's hold, its
release when the session dies, and the sale when the order is paid."""

from __future__ import annotations

from collections.abc import Sequence

from commerce.catalog import Catalog
from commerce.errors import ErrorCode
from commerce.quotes import Quote, QuoteRejected
from commerce.stock import Shortage, release, reserve, sell
from store import Store, keys
from store.base import now_epoch
from store.records import CheckoutRecord, get_record
from store.records.stock import Reservation

PENDING, SOLD, SHORT = "pending", "sold", "short"  # an order's `stock`


async def hold_for_checkout(store: Store, catalog: Catalog, quote: Quote, holds: Sequence[Reservation], *,
                            generation: int, hold_until: int, now: int) -> Reservation | None:
    """The checkout's hold on its quote's counted pieces (None: nothing counted), or
    QuoteRejected OUT_OF_STOCK naming the piece and what is left."""
    hold = await reserve(store, catalog, quote.cart.lines, signature=quote.signature, generation=generation,
                         hold_until=hold_until, held=holds, now=now)
    if isinstance(hold, Shortage):
        raise QuoteRejected(ErrorCode.OUT_OF_STOCK, hold.message)
    return hold


async def release_generation(store: Store, holds: Sequence[Reservation], generation: int, *, now: int,
                             why: str) -> None:
    for hold in holds:
        if hold.generation == generation and hold.state == "reserved":
            await release(store, hold, now=now, why=why)


async def hold_of(store: Store, record: CheckoutRecord) -> Reservation | None:
    if record.reservation is None or record.quote_signature is None:
        return None
    generation, attempt = record.reservation
    return await get_record(store, Reservation, keys.reservation(record.quote_signature, generation, attempt))


async def release_for_session(store: Store, record: CheckoutRecord, *, why: str) -> None:
    """The session died unpaid (expired, or its delayed payment failed): its hold goes back
    (once, whatever the number of events)."""
    hold = await hold_of(store, record)
    if hold is not None:
        await release(store, hold, now=now_epoch(), why=why)


async def release_session_hold(store: Store, session_id: str, *, why: str) -> None:
    """release_for_session, from the session id (checkout.session.async_payment_failed)."""
    record = await get_record(store, CheckoutRecord, keys.session_pointer(session_id))
    if record is not None:
        await release_for_session(store, record, why=why)


async def stock_for_order(store: Store, record: CheckoutRecord, *, paid: bool) -> str | None:
    """The hook commerce/orders.py calls for an order's stock: None when its checkout held
    nothing; "pending" until it is paid; then "sold", or "short" when the pieces could not
    be had (its hold was lost or released and none is left): the order is flagged
    OUT_OF_STOCK, never silently accepted. Safe to call again: the hold moves once."""
    if record.reservation is None:
        return None
    if not paid:
        return PENDING
    hold = await hold_of(store, record)
    if hold is None:  # the hold is gone (removed by hand, or kept past its time)
        return SHORT
    sold = await sell(store, hold, now=now_epoch())
    return SOLD if sold.state == "sold" else SHORT

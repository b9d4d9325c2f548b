"""Stripe checkout sessions become orders here, and only here.

`order_from_session` is Stripe's fulfil-checkout function: the webhook, the success
page, the dashboard's fallback and the reconciliation job all call it. It fetches the
session and its line items from Stripe (never trusting a payload), builds the order,
and writes it with conditional puts, so any number of concurrent callers leave one.

Only a session this gateway created becomes an order: its SESSION#{id} record (written
at checkout) says so, names the owner (never the session's metadata, which anyone with
access to the Stripe account can write) and keeps what the quote charges. A session
whose amounts differ from its quote is recorded as NEEDS_REVIEW (logged as an
`order_review` line and counted in `gateway_orders_needing_review_total`), never as a
normal paid order. Without a record nothing is fetched from Stripe.

The order lives at ORDER#{id} / METADATA (found in O(1) by id, versioned), with a
copy in its owner's list at USER#{userId} / ORDER#{created}#{id} (the seed's layout,
read by the dashboard) that only ever moves forward to newer versions.

Every write of an order is followed by `commerce.emails.queue_due_messages`, which records
the messages the order now owes its shopper (confirmation, shipping and refund notices) in
the outbox, once each.

Status follows from facts that only ever grow (`commerce/facts.py`: payment, refunds and
disputes by id, and the status table; NEEDS_REVIEW, whatever the facts, when
the session did not match its quote), merged with versioned writes. Because merging is
monotonic, events may arrive late, twice or out of order: a `completed` after a refund
leaves the order refunded, and a refund that arrives first creates the order (from
Stripe) and then applies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from commerce.emails import queue_due_messages
from commerce.facts import Facts, status_of
from commerce.holds import PENDING, SHORT, stock_for_order
from commerce.timeline import fact_events, with_events, with_fact_events
from payments import SESSION_ID, SOURCE, CheckoutSession, LineItem, Payments
from store import Store, keys
from store.base import MAX_VERSION_RETRIES, now_epoch
from store.records import (
    CheckoutRecord,
    ExpectedCharge,
    Order,
    OrderEvent,
    OrderLine,
    PaymentPointer,
    QuoteRecord,
    ShippingAddress,
    get_record,
    put_record,
    record_of,
    update_record,
    version_at,
)
from store.records.profiles import GUEST_ORDERS
from telemetry.metrics import ORDERS_NEEDING_REVIEW, ORDERS_OUT_OF_STOCK, log_line

log = logging.getLogger("gateway.orders")


def order_status(order: Order, facts: Facts) -> str:
    """The status a stored order should have with these facts."""
    return status_of(facts, order.total, review=order.review, short=order.stock == SHORT)


def shown(order: Order) -> Order:
    """The order as shoppers see it: a status set by hand (not one of ours, such as SHIPPED)
    shows as what its facts say. For showing only: the stored status stays as it is."""
    if not order.set_by_hand:
        return order
    return replace(order, status=order_status(order, order.facts))


def is_ours(session: CheckoutSession) -> bool:
    """Marked as the gateway's (metadata anyone with the Stripe account can write: a
    session becomes an order only with its SESSION# record)."""
    return session.metadata.get("source") == SOURCE


def order_number(order_id: str) -> str:
    return "BC-" + order_id[-8:].upper()


async def order_from_session(
    store: Store, payments: Payments, session_id: str, *, facts: Facts | None = None,
    session: CheckoutSession | None = None,
) -> Order | None:
    """The order for a checkout session (made now if need be), with any extra facts
    merged in; None when the session is not one this gateway made, or not completed.
    A caller that has just fetched the session from Stripe may pass it."""
    if not SESSION_ID.match(session_id):
        return None
    order_key, record_key = keys.order_pointer(session_id), keys.session_pointer(session_id)
    found = await store.batch_get([order_key, record_key])  # one read: the order and the record
    return await order_from_recorded_session(
        store, payments, session_id, existing=record_of(found, order_key, Order),
        record=record_of(found, record_key, CheckoutRecord), facts=facts, session=session)


async def order_from_recorded_session(
    store: Store, payments: Payments, session_id: str, *, existing: Order | None,
    record: CheckoutRecord | None, facts: Facts | None = None, session: CheckoutSession | None = None,
) -> Order | None:
    """order_from_session for a caller that has read the order and the session record."""
    if existing is None and record is None:
        return None  # not a session this gateway made: nothing to fetch
    if session is None:
        # With its line items expanded: one call, not two, for a new order.
        session = await payments.retrieve_session(session_id, with_line_items=True)
    if session is None or session.status != "complete" or session.id != session_id:
        return None
    seen = Facts(paid=session.payment_status == "paid")
    if existing is None:
        assert record is not None
        order, created = await _new_order(store, payments, session, seen, record)
        if created and facts is None:
            return order  # written just now from these very facts, and listed
    else:
        order = existing
    return await apply_facts(store, order, seen.merge(facts or Facts()))


async def find_order(store: Store, order_id: str) -> Order | None:
    """The order by id; Unreadable goes up for an item that cannot be read."""
    return await get_record(store, Order, keys.order_pointer(order_id))


async def apply_facts(store: Store, order: Order, facts: Facts) -> Order:
    """Merge facts into the stored order (a versioned write, redone on conflict). An item
    re-read on conflict that cannot be read raises Unreadable: a person must look at it."""
    stock = await _stock_when_paid(store, order, facts)

    def change(current: Order) -> Order | None:
        merged = current.facts.merge(facts)
        settled = stock is not None and current.stock == PENDING
        if settled:
            current = replace(current, stock=stock)
        status = order_status(current, merged)
        by_hand = current.set_by_hand  # kept: only facts are ours to change
        if not settled and merged == current.facts and (by_hand or current.status == status):
            return None  # also repairs a status that disagrees with its facts
        changed = replace(current, facts=merged, refunded=merged.refunded, charged_back=merged.charged_back,
                          status=current.status if by_hand else status)
        return with_fact_events(current, changed, now_epoch())  # the timeline, in the same write

    updated = await update_record(store, order, change)
    if stock == SHORT and order.stock == PENDING:
        _flag_short(updated)
    await project(store, updated)  # also repairs a listing copy a crash left behind
    await queue_due_messages(store, updated)  # and a message a crash left unrecorded
    return updated


async def record_events(store: Store, order: Order, events: Mapping[str, OrderEvent]) -> Order:
    """Merge events into the stored order and its listing copy (a versioned write; a key
    already stored keeps its time). The hook for events whose facts are kept elsewhere,
    such as the email outbox's EMAIL_SENT (commerce.timeline.email_sent)."""
    updated = await update_record(store, order, lambda current: (
        None if events.keys() <= current.events.keys() else with_events(current, current, events)))
    await project(store, updated)
    return updated


async def apply_owner(store: Store, order: Order, user_id: str) -> Order:
    """Give a guest order to a signed-in user, and list it under them."""
    updated = await update_record(store, order, lambda current: (
        replace(current, user_id=user_id, guest=False, guest_email=current.filed_email)
        if current.guest else None))
    await project(store, updated)
    return updated


async def project(store: Store, order: Order, *, fresh: bool = False) -> None:
    """Copy the order to its owner's list (USER#{userId} / ORDER#{created}#{id}, the
    layout the shop's table already has). Only ever moves a copy to a newer version.
    For an order just made (`fresh`), try writing the copy before reading it."""
    key = order.listing_key
    listing = order.to_item(key)
    if fresh and await store.put(listing, if_absent=True):
        await _count_guest_order(store, order)
        return
    for _ in range(MAX_VERSION_RETRIES):
        current = await version_at(store, key)
        if current is None:
            if await store.put(listing, if_absent=True):
                await _count_guest_order(store, order)
                return
        elif current >= order.version or await store.put(listing, if_version=current):
            return
    raise RuntimeError(f"order {order.order_id}: listing copy kept changing")


GUEST_COUNTER_SECONDS = 10 * 365 * 86400


async def _count_guest_order(store: Store, order: Order) -> None:
    """A guest order newly listed: the next sign-in with its verified email claims it."""
    if order.guest:
        await store.add(keys.guest_unclaimed(order.filed_email), GUEST_ORDERS, 1,
                        expires_at=now_epoch() + GUEST_COUNTER_SECONDS)


async def _stock_when_paid(store: Store, order: Order, facts: Facts) -> str | None:
    """An order paid now (a delayed payment settling) whose hold is pending: sold, or short."""
    if order.stock != PENDING or not order.facts.merge(facts).paid:
        return None
    record = await get_record(store, CheckoutRecord, keys.session_pointer(order.order_id))
    return await stock_for_order(store, record, paid=True) if record is not None else SHORT


def _flag_short(order: Order) -> None:
    if order.stock == SHORT:
        ORDERS_OUT_OF_STOCK.inc()
        log.warning("order %s is paid but its pieces could not be had (OUT_OF_STOCK)", order.order_id)
        log_line("order_out_of_stock", orderId=order.order_id, total=order.total, currency=order.currency,
                 items=[[line.sku, line.quantity] for line in order.items])


async def _new_order(store: Store, payments: Payments, session: CheckoutSession, facts: Facts,
                     record: CheckoutRecord) -> tuple[Order, bool]:
    """The order written now (then True), or the one a concurrent caller wrote first."""
    order = await build_order(payments, session, facts, record=record)
    stock = await stock_for_order(store, record, paid=facts.paid)  # the hold sold (once), or pending
    order = replace(order, stock=stock, status=status_of(facts, order.total, short=stock == SHORT))
    problem = await _mismatch(store, session, order, record)
    if problem is not None:
        order = replace(order, review=True, review_reason=problem, status="NEEDS_REVIEW",
                        events={**order.events, "review": OrderEvent("NEEDS_REVIEW", order.updated_at)})
    # The order item (ORDER#{id} / METADATA) is the claim: written if absent, so one of
    # any number of concurrent callers writes it and the rest read the winner's.
    if not await put_record(store, order, if_absent=True):
        stored = await find_order(store, session.id)
        assert stored is not None
        return stored, False
    _flag_short(order)
    if problem is not None:
        ORDERS_NEEDING_REVIEW.inc()
        log.warning("order %s needs review: %s", session.id, problem)
        log_line("order_review", orderId=session.id, reason=problem, total=order.total,
                 currency=order.currency)
    if order.stripe_payment_intent_id:
        await put_record(store, PaymentPointer(order.stripe_payment_intent_id, session.id), if_absent=True)
    await project(store, order, fresh=True)
    await queue_due_messages(store, order, fresh=True)  # the confirmation, recorded with the order
    return order, True


async def _mismatch(store: Store, session: CheckoutSession, order: Order,
                    record: CheckoutRecord) -> str | None:
    """Why the session does not charge what its quote says; None when it does."""
    expected = record.expected
    if expected is None:  # a record from an earlier version: compare with the quote itself
        quote = await get_record(store, QuoteRecord, keys.quote(record.quote_signature)) \
            if record.quote_signature else None
        if quote is None:
            return "the quote is gone, so the amounts cannot be checked"
        expected = expected_charge(quote.currency, quote.total,
                                   [(line.unit_price, line.quantity) for line in quote.lines])
    if session.amount_subtotal != expected.subtotal or order.currency != expected.currency:
        return (f"charges {session.amount_subtotal} {order.currency}, the quote "
                f"{expected.subtotal} {expected.currency}")
    charged = sorted((line.unit_price, line.quantity) for line in order.items)
    if charged != sorted(expected.lines):
        return "the line items differ from the quote's"
    metadata_quote = session.metadata.get("quoteSignature")
    if record.quote_signature and metadata_quote != record.quote_signature:
        return "the session names another quote"
    return None


def expected_charge(currency: str, subtotal: int, lines: list[tuple[int, int]], *,
                    saving: int = 0) -> ExpectedCharge:
    """What a session made from a quote must charge, and the bundle saving its prices
    already hold: kept on its SESSION# record."""
    return ExpectedCharge(currency.upper(), subtotal, tuple((unit, quantity) for unit, quantity in lines), saving)


async def build_order(payments: Payments, session: CheckoutSession, facts: Facts, *,
                      record: CheckoutRecord) -> Order:
    """The order a session makes; its owner comes from the gateway's SESSION# record.
    The session's line items (with their products, for SKUs) are listed unless they came
    with it."""
    session_id = session.id
    # a complete session has its amounts, currency and creation time
    assert session.amount_total is not None and session.amount_subtotal is not None and session.currency
    assert session.created is not None
    lines = session.line_items
    if lines is None or any(item.price.product is None for item in lines):
        lines = await payments.session_line_items(session_id)
    email = session.email
    signed_in = record.user_id  # never metadata: anyone with the Stripe account writes that
    guest = None if signed_in else keys.guest_email(email or record.guest_email or f"session:{session_id}")
    # The quote's bundle saving is in its line prices, so Stripe never sees it as a discount:
    # the order shows it as the quote did (subtotal at list prices, the saving as discount).
    saving = record.expected.saving if record.expected else 0
    now = now_epoch()
    return Order(
        order_id=session_id, order_number=order_number(session_id),
        user_id=signed_in, guest=signed_in is None, guest_email=guest,
        status=status_of(facts, session.amount_total), facts=facts,
        items=tuple(_order_line(item) for item in lines),
        currency=session.currency.upper(),
        subtotal=session.amount_subtotal + saving, discount=session.amount_discount + saving,
        shipping=session.amount_shipping, tax=session.amount_tax,
        total=session.amount_total, refunded=facts.refunded, charged_back=facts.charged_back,
        email=email, shipping_address=_shipping_address(session),
        stripe_session_id=session_id, stripe_payment_intent_id=session.payment_intent,
        quote_signature=session.metadata.get("quoteSignature"),
        created_at=session.created, updated_at=now, version=1,
        customer_id=session.customer or None,
        events=fact_events(facts, review=False, placed_at=min(session.created, now), at=now),
    )


def _order_line(item: LineItem) -> OrderLine:
    price = item.price
    sku = price.lookup_key or (price.product.metadata.get("sku") if price.product is not None else None)
    # our sessions' prices always have a unit amount (tiered prices, which have none, are never made)
    return OrderLine(sku, item.description, item.quantity, price.unit_amount or 0, item.amount_subtotal)


def _shipping_address(session: CheckoutSession) -> ShippingAddress | None:
    shipping = session.shipping
    if shipping is None:
        return None
    address = shipping.address
    return ShippingAddress(shipping.name, address.get("line1"), address.get("line2"), address.get("city"),
                           address.get("state"), address.get("postal_code"), address.get("country"))

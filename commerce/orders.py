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

Status follows from facts that only ever grow (`commerce/facts.py`: payment, refunds and
disputes by id, and the status table; NEEDS_REVIEW, whatever the facts, when
the session did not match its quote), merged with versioned writes. Because merging is
monotonic, events may arrive late, twice or out of order: a `completed` after a refund
leaves the order refunded, and a refund that arrives first creates the order (from
Stripe) and then applies.
"""

from __future__ import annotations

from typing import Any

import logging

from commerce.facts import Facts, facts_item, facts_of, status_of
from payments import SESSION_ID, SOURCE, CheckoutSession, LineItem, Payments
from commerce.stored_orders import STATUSES, read_order
from telemetry.metrics import ORDERS_NEEDING_REVIEW, log_line
from store import Store, keys
from store.base import MAX_VERSION_RETRIES, now_epoch, update_versioned

log = logging.getLogger("gateway.orders")


def order_status(order: dict[str, Any], facts: Facts) -> str:
    """The status a stored order should have with these facts."""
    return status_of(facts, order["total"], review=bool(order.get("review")))


def is_ours(session: CheckoutSession) -> bool:
    """Marked as the gateway's (metadata anyone with the Stripe account can write: a
    session becomes an order only with its SESSION# record)."""
    return session.metadata.get("source") == SOURCE


def order_number(order_id: str) -> str:
    return "BC-" + order_id[-8:].upper()


async def order_from_session(
    store: Store, payments: Payments, session_id: str, *, facts: Facts | None = None,
    session: CheckoutSession | None = None,
) -> dict[str, Any] | None:
    """The order for a checkout session (made now if need be), with any extra facts
    merged in; None when the session is not one this gateway made, or not completed.
    A caller that has just fetched the session from Stripe may pass it."""
    if not SESSION_ID.match(session_id):
        return None
    order_key, record_key = keys.order_pointer(session_id), keys.session_pointer(session_id)
    found = await store.batch_get([order_key, record_key])  # one read: the order and the record
    return await order_from_recorded_session(
        store, payments, session_id, existing=found.get(order_key), record=found.get(record_key),
        facts=facts, session=session)


async def order_from_recorded_session(
    store: Store, payments: Payments, session_id: str, *, existing: dict[str, Any] | None,
    record: dict[str, Any] | None, facts: Facts | None = None, session: CheckoutSession | None = None,
) -> dict[str, Any] | None:
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


async def find_order(store: Store, order_id: str) -> dict[str, Any] | None:
    return await store.get(keys.order_pointer(order_id))


async def apply_facts(store: Store, order: dict[str, Any], facts: Facts) -> dict[str, Any]:
    """Merge facts into the stored order (a versioned write, redone on conflict)."""
    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        seen = read_order(current)  # Unreadable goes up: a person must look at this item
        merged = facts_of(seen).merge(facts)
        status = order_status(seen, merged)
        by_hand = current.get("status") not in STATUSES  # kept: only facts are ours to change
        if merged == facts_of(seen) and (by_hand or current.get("status") == status):
            return None  # also repairs a status that disagrees with its facts
        return {**current, "facts": facts_item(merged), "refunded": merged.refunded,
                "chargedBack": merged.charged_back, "status": current.get("status") if by_hand else status}

    updated = await update_versioned(store, order, change)
    await project(store, updated)  # also repairs a listing copy a crash left behind
    return updated


async def apply_owner(store: Store, order: dict[str, Any], user_id: str) -> dict[str, Any]:
    """Give a guest order to a signed-in user, and list it under them."""
    updated = await update_versioned(store, order, lambda current: (
        {**current, "userId": user_id, "guest": False, "guestEmail": guest_email_of(current)}
        if current.get("guest") else None))
    await project(store, updated)
    return updated


async def project(store: Store, order: dict[str, Any], *, fresh: bool = False) -> None:
    """Copy the order to its owner's list (USER#{userId} / ORDER#{created}#{id}, the
    layout the shop's table already has). Only ever moves a copy to a newer version.
    For an order just made (`fresh`), try writing the copy before reading it."""
    key = listing_key(order)
    listing = {**order, keys.PK: key.pk, keys.SK: key.sk}
    if fresh and await store.put(listing, if_absent=True):
        await _count_guest_order(store, order)
        return
    for _ in range(MAX_VERSION_RETRIES):
        current = await store.get(key)
        if current is None:
            if await store.put(listing, if_absent=True):
                await _count_guest_order(store, order)
                return
        elif current.get(keys.VERSION, 0) >= order[keys.VERSION]:
            return
        elif await store.put(listing, if_version=current.get(keys.VERSION, 0)):
            return
    raise RuntimeError(f"order {order['orderId']}: listing copy kept changing")


GUEST_COUNTER_SECONDS = 10 * 365 * 86400


async def _count_guest_order(store: Store, order: dict[str, Any]) -> None:
    """A guest order newly listed: the next sign-in with its verified email claims it."""
    if order.get("guest"):
        await store.add(keys.guest_unclaimed(guest_email_of(order)), "orders", 1,
                        expires_at=now_epoch() + GUEST_COUNTER_SECONDS)


def listing_key(order: dict[str, Any]) -> keys.Key:
    """USER#{userId} for a signed-in shopper's order, GUEST#{email} for a guest's."""
    if order.get("guest"):
        return keys.guest_order(guest_email_of(order), order["createdAt"], order["orderId"])
    return keys.order(order["userId"], order["createdAt"], order["orderId"])


def guest_email_of(order: dict[str, Any]) -> str:
    """The email a guest order is filed under (earlier versions kept it as the userId)."""
    return order.get("guestEmail") or order["userId"]


async def _new_order(store: Store, payments: Payments, session: CheckoutSession, facts: Facts,
                     record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The order written now (then True), or the one a concurrent caller wrote first."""
    order = await build_order(payments, session, facts, record=record)
    problem = await _mismatch(store, session, order, record)
    if problem is not None:
        order = {**order, "review": True, "reviewReason": problem, "status": "NEEDS_REVIEW"}
    # The order item (ORDER#{id} / METADATA) is the claim: written if absent, so one of
    # any number of concurrent callers writes it and the rest read the winner's.
    if not await store.put(order, if_absent=True):
        stored = await find_order(store, session.id)
        assert stored is not None
        return stored, False
    if problem is not None:
        ORDERS_NEEDING_REVIEW.inc()
        log.warning("order %s needs review: %s", session.id, problem)
        log_line("order_review", orderId=session.id, reason=problem, total=order["total"],
                 currency=order["currency"])
    if order["stripePaymentIntentId"]:
        payment = keys.payment_pointer(order["stripePaymentIntentId"])
        await store.put({keys.PK: payment.pk, keys.SK: payment.sk, keys.ENTITY: "PaymentPointer",
                         "orderId": session.id}, if_absent=True)
    await project(store, order, fresh=True)
    return order, True


async def _mismatch(store: Store, session: CheckoutSession, order: dict[str, Any],
                    record: dict[str, Any]) -> str | None:
    """Why the session does not charge what its quote says; None when it does."""
    expected = record.get("expected")
    if expected is None:  # a record from an earlier version: compare with the quote itself
        quote = await store.get(keys.quote(record["quoteSignature"])) if record.get("quoteSignature") else None
        if quote is None:
            return "the quote is gone, so the amounts cannot be checked"
        expected = expected_charge(quote["currency"], quote["pricingSummary"]["total"],
                                   [(line["unitPrice"], line["quantity"]) for line in quote["items"]])
    if session.amount_subtotal != expected["subtotal"] or order["currency"] != expected["currency"]:
        return (f"charges {session.amount_subtotal} {order['currency']}, the quote "
                f"{expected['subtotal']} {expected['currency']}")
    charged = sorted([line["unitPrice"], line["quantity"]] for line in order["items"])
    if charged != sorted([list(line) for line in expected["lines"]]):
        return "the line items differ from the quote's"
    metadata_quote = session.metadata.get("quoteSignature")
    if record.get("quoteSignature") and metadata_quote != record["quoteSignature"]:
        return "the session names another quote"
    return None


def expected_charge(currency: str, subtotal: int, lines: list[tuple[int, int]], *,
                    saving: int = 0) -> dict[str, Any]:
    """What a session made from a quote must charge, and the bundle saving its prices
    already hold: kept on its SESSION# record."""
    return {"currency": currency.upper(), "subtotal": subtotal,
            "lines": [[unit, quantity] for unit, quantity in lines], "saving": saving}


async def build_order(payments: Payments, session: CheckoutSession, facts: Facts, *,
                      record: dict[str, Any]) -> dict[str, Any]:
    """The order a session makes; its owner comes from the gateway's SESSION# record.
    The session's line items (with their products, for SKUs) are listed unless they came
    with it."""
    session_id = session.id
    # a complete session has its amounts and currency
    assert session.amount_total is not None and session.amount_subtotal is not None and session.currency
    lines = session.line_items
    if lines is None or any(item.price.product is None for item in lines):
        lines = await payments.session_line_items(session_id)
    email = session.email
    signed_in = record.get("userId")  # never metadata: anyone with the Stripe account writes that
    guest = None if signed_in else keys.guest_email(email or record.get("guestEmail") or f"session:{session_id}")
    # The quote's bundle saving is in its line prices, so Stripe never sees it as a discount:
    # the order shows it as the quote did (subtotal at list prices, the saving as discount).
    saving = (record.get("expected") or {}).get("saving", 0)
    key = keys.order_pointer(session_id)
    now = now_epoch()
    customer = session.customer
    return {
        keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "Order",
        "orderId": session_id, "orderNumber": order_number(session_id),
        "userId": signed_in, "guest": signed_in is None,
        **({"guestEmail": guest} if guest else {}),
        "status": status_of(facts, session.amount_total), "facts": facts_item(facts),
        "items": [_order_line(item) for item in lines],
        "currency": session.currency.upper(),
        "subtotal": session.amount_subtotal + saving, "discount": session.amount_discount + saving,
        "shipping": session.amount_shipping, "tax": session.amount_tax,
        "total": session.amount_total, "refunded": facts.refunded, "chargedBack": facts.charged_back,
        "email": email, "shippingAddress": _shipping_address(session),
        "stripeSessionId": session_id, "stripePaymentIntentId": session.payment_intent,
        "quoteSignature": session.metadata.get("quoteSignature"),
        "createdAt": session.created, "updatedAt": now, keys.VERSION: 1,
        # a key of the stripeCustomerId-index: present as a string or not at all
        **({keys.CUSTOMER_ID: customer} if customer else {}),
    }


def _order_line(item: LineItem) -> dict[str, Any]:
    price = item.price
    sku = price.lookup_key or (price.product.metadata.get("sku") if price.product is not None else None)
    return {"sku": sku, "name": item.description, "quantity": item.quantity,
            "unitPrice": price.unit_amount, "total": item.amount_subtotal}


def _shipping_address(session: CheckoutSession) -> dict[str, Any] | None:
    shipping = session.shipping
    if shipping is None:
        return None
    fields = {"line1": "line1", "line2": "line2", "city": "city", "state": "state",
              "postal_code": "postalCode", "country": "country"}
    return {"name": shipping.name, **{ours: shipping.address.get(theirs) for theirs, ours in fields.items()}}

"""Quote → Stripe Checkout Session.

The session charges exactly the quote: one line per quote line at the quote's unit
price (the synced Stripe price when it matches, else ad-hoc price data on the synced
product). Success and cancel URLs come from configuration only. One quote has at most
one live session: a repeat returns the open (or completed) one; after it expired, a
new one is made. Every parameter is a function of the quote, the user and the
generation, so concurrent callers send identical requests under one idempotency key
and Stripe answers them all with the same session.

A quote belongs to its first checkout's owner (QUOTE#{signature} / CLAIM, written if
absent before Stripe is called): a signed-in user, or a guest with the email they gave
(or none). Anyone else holding the signature gets QUOTE_IN_USE, never that shopper's
session, and two concurrent checkouts with different parameters never reach Stripe
with one idempotency key. Should Stripe still answer `idempotency_error` (replicas
whose settings differ during a rollout), the caller gets the session the other request
recorded, or QUOTE_IN_USE: never a 500.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from commerce.catalog import Catalog
from commerce.catalog_sync import CatalogMap
from commerce.customers import ensure_customer
from commerce.errors import ErrorCode
from commerce.holds import hold_for_checkout, release_for_session, release_generation
from commerce.orders import expected_charge
from commerce.pricing import PricedLine
from commerce.quotes import EXPIRED_QUOTE_KEPT_SECONDS, Quote, QuoteRejected, refuse_expired
from commerce.stock import release
from payments import SOURCE, CheckoutSession, IdempotencyConflict, NotFound, Payments
from settings import ShippingRate
from store import Store, keys
from store.records import (
    CheckoutRecord,
    ExpectedCharge,
    QuoteClaim,
    QuoteSession,
    get_record,
    put_record,
)
from store.records.stock import Reservation

MAX_SESSION_LIFETIME = 24 * 3600
MIN_SESSION_LIFETIME = 30 * 60  # Stripe's window for expires_at, from the session's creation
EXPIRY_MARGIN = 5 * 60  # for latency and clock skew; quotes live at most 12 h, so both ends fit
WINNER_WAIT_SECONDS = 3.0  # how long a request that lost an idempotency race waits for the winner's record
IN_USE = "This quote is being checked out by another shopper; price the cart again."


class CheckoutMismatch(Exception):
    """Stripe's total differs from the quote's: the session is expired, never paid."""


@dataclass(frozen=True, slots=True)
class CheckoutConfig:
    success_url: str
    cancel_url: str
    session_ttl_minutes: int
    shipping_countries: tuple[str, ...] = ()
    shipping_rates: tuple[ShippingRate, ...] = ()
    automatic_tax: bool = False
    tax_behavior: str = "exclusive"  # do prices and shipping rates include tax (Stripe Tax asks)


@dataclass(frozen=True, slots=True)
class SessionView:
    """What the gateway tells clients about a Stripe checkout session."""

    id: str
    url: str | None
    status: str  # open | complete | expired
    payment_status: str
    expires_at: int | None
    amount_total: int | None
    currency: str | None  # upper-case


def session_view(session: CheckoutSession) -> SessionView:
    return SessionView(
        id=session.id, url=session.url, status=session.status, payment_status=session.payment_status,
        expires_at=session.expires_at, amount_total=session.amount_total,
        currency=session.currency.upper() if session.currency else None,
    )


def checkout_owner(user_id: str | None, guest_email: str | None) -> str:
    """Who a checkout is for: a signed-in user, or a guest by the email given (or none)."""
    if user_id:
        return f"user:{user_id}"
    return "guest:" + (keys.guest_email(guest_email) if guest_email else "")


async def checkout_for_quote(
    store: Store, payments: Payments, prices: CatalogMap, config: CheckoutConfig, quote: Quote,
    *, user_id: str | None, user_email: str | None, guest_email: str | None, now: int,
    catalog: Catalog,
) -> SessionView:
    """The quote's live session (even once the quote has expired), or a new one for an
    unexpired quote (QuoteRejected otherwise). The caller has checked the quote is genuine.
    Only the quote's owner (its first checkout's) gets either: QUOTE_IN_USE for anyone else.

    A new session holds the quote's counted pieces first (commerce/stock.py: one
    transaction, all or none; OUT_OF_STOCK and no Stripe call when short), so no session
    exists without its stock; the hold is given back if the session cannot be made. A
    retry or a racer of the same generation finds the hold made and reuses it."""
    if user_id:
        guest_email = None  # ignored for signed-in users (the schema says so)
    owner = checkout_owner(user_id, guest_email)
    claim, records, holds = await quote_checkouts(store, quote.signature)
    if claim is None:
        refuse_expired(quote, now)
        claim = await _claim(store, quote, owner)
    if claim.owner != owner:
        raise QuoteRejected(ErrorCode.QUOTE_IN_USE, IN_USE)
    generation = 0
    if records:
        latest = records[0]
        session = await payments.retrieve_session(latest.session_id, with_payment_intent=True)
        if session is not None and (session.status == "open" or
                                    (session.status == "complete" and not payment_failed(session))):
            return session_view(session)
        # expired, or its delayed payment failed: a new session while the quote is valid
        generation = latest.generation + 1
        if session is not None:  # dead at Stripe: its hold goes back now, whenever its event comes
            await release_generation(store, holds, latest.generation, now=now, why=f"session {session.status}")
    refuse_expired(quote, now)
    hold = await hold_for_checkout(store, catalog, quote, holds, generation=generation,
                                   hold_until=session_expiry(quote, config), now=now)
    try:
        return await _new_session(store, payments, prices, config, quote, generation, hold, user_id=user_id,
                                  user_email=user_email, guest_email=guest_email, owner=owner, now=now)
    except IdempotencyConflict:
        # Another request of the same owner made this generation's session with other
        # parameters (a replica with other settings): that session is the answer.
        return await _winners_session(store, payments, quote.signature, generation)
    except Exception:
        if hold is not None:  # no session to hold for (one Stripe made unseen is never handed out)
            await release(store, hold, now=now, why="the session could not be made")
        raise


async def _new_session(store: Store, payments: Payments, prices: CatalogMap, config: CheckoutConfig,
                       quote: Quote, generation: int, hold: Reservation | None, *, user_id: str | None,
                       user_email: str | None, guest_email: str | None, owner: str, now: int) -> SessionView:
    customer = await ensure_customer(store, payments, user_id, user_email, now) if user_id else None
    params = session_params(quote, prices, config, user_id=user_id, customer=customer,
                            email=None if customer else guest_email)
    key = f"checkout-{quote.signature}-{generation}"
    try:
        session = await payments.create_checkout_session(params, idempotency_key=key)
    except NotFound as exc:
        if not (customer and user_id and exc.param == "customer"):  # a customer only for a user
            raise
        # The stored customer is gone from this Stripe account (deleted, or the keys
        # moved from test to live): make another, keep it, and check out with it.
        customer = await ensure_customer(store, payments, user_id, user_email, now, replacing=customer)
        params = session_params(quote, prices, config, user_id=user_id, customer=customer, email=None)
        session = await payments.create_checkout_session(params, idempotency_key=f"{key}-{customer}")
    await _check_totals(payments, session, quote)
    await _record(store, quote, session, generation, user_id, guest_email, owner, now, hold)
    return session_view(session)


def payment_failed(session: CheckoutSession) -> bool:
    """A completed session whose delayed payment failed (its PaymentIntent, expanded, wants
    another payment method): a dead end for the shopper, who may check out again."""
    return (session.payment_status == "unpaid" and session.intent is not None
            and session.intent.status in ("requires_payment_method", "canceled"))


async def quote_checkouts(store: Store, signature: str
                          ) -> tuple[QuoteClaim | None, list[QuoteSession], list[Reservation]]:
    """The quote's claim, its session records (latest generation first) and its stock
    holds, in one query."""
    page = await store.query(keys.quote(signature).pk, limit=100)
    claim_key = keys.quote_claim(signature)
    claim = next((QuoteClaim.from_item(item) for item in page.items if keys.key_of(item) == claim_key), None)
    records = [QuoteSession.from_item(item) for item in page.items
               if keys.key_of(item).sk.startswith(keys.SESSION_PREFIX)]
    holds = [Reservation.from_item(item) for item in page.items
             if keys.key_of(item).sk.startswith(keys.RESERVATION_PREFIX)]
    return claim, sorted(records, key=lambda record: record.generation, reverse=True), holds


async def quote_sessions(store: Store, signature: str) -> list[QuoteSession]:
    """The quote's session records, latest generation first."""
    return (await quote_checkouts(store, signature))[1]


async def _claim(store: Store, quote: Quote, owner: str) -> QuoteClaim:
    """The quote's claim: ours if no one has one, else the first claimant's."""
    claim = QuoteClaim(quote.signature, owner, quote.valid_until + EXPIRED_QUOTE_KEPT_SECONDS)
    if await put_record(store, claim, if_absent=True):
        return claim
    return await get_record(store, QuoteClaim, claim.key) or claim


async def _winners_session(store: Store, payments: Payments, signature: str, generation: int) -> SessionView:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WINNER_WAIT_SECONDS
    while True:
        records = [r for r in await quote_sessions(store, signature) if r.generation == generation]
        if records:
            session = await payments.retrieve_session(records[0].session_id)
            if session is not None:
                return session_view(session)
        if loop.time() >= deadline:
            raise QuoteRejected(ErrorCode.QUOTE_IN_USE, "This quote is being checked out in another "
                                "request; try again in a moment.")
        await asyncio.sleep(0.1)


def session_record(session_id: str, quote_signature: str, *, user_id: str | None,
                   guest_email: str | None, owner: str, expected: ExpectedCharge, now: int,
                   hold: Reservation | None = None) -> CheckoutRecord:
    """SESSION#{id}: the proof this gateway made the session, whose order it is (never the
    session's metadata), what it must charge (`commerce.orders.expected_charge`) and the
    stock hold it sells. commerce.orders makes orders only from sessions with this record."""
    return CheckoutRecord(
        session_id, quote_signature, user_id or None,
        keys.guest_email(guest_email) if guest_email and not user_id else None, owner, expected, now,
        (hold.generation, hold.attempt) if hold is not None else None)


def session_params(
    quote: Quote, prices: CatalogMap, config: CheckoutConfig, *, user_id: str | None,
    customer: str | None, email: str | None,
) -> dict[str, Any]:
    metadata = {"source": SOURCE, "quoteSignature": quote.signature}
    if user_id:
        metadata["userId"] = user_id
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [_line_item(line, quote.cart.currency, prices, config.tax_behavior)
                       for line in quote.cart.lines],
        "success_url": config.success_url,
        "cancel_url": config.cancel_url,
        "expires_at": session_expiry(quote, config),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "client_reference_id": user_id if user_id and len(user_id) <= 200 else quote.signature,
    }
    if customer:
        params["customer"] = customer
    elif email:
        params["customer_email"] = email
    if config.shipping_countries:
        params["shipping_address_collection"] = {"allowed_countries": list(config.shipping_countries)}
    if config.shipping_rates:
        params["shipping_options"] = [_shipping_option(r, quote.cart.currency, config.tax_behavior)
                                      for r in config.shipping_rates]
    if config.automatic_tax:
        params["automatic_tax"] = {"enabled": True}
        if customer:
            # Stripe Tax needs the customer's address: take the one entered at checkout.
            params["customer_update"] = {"address": "auto"}
            if config.shipping_countries:
                params["customer_update"]["shipping"] = "auto"
    return params


def session_expiry(quote: Quote, config: CheckoutConfig) -> int:
    """A function of the quote alone (so retries and racers agree), inside Stripe's window
    of 30 minutes to 24 hours for any session made while the quote is valid, with
    EXPIRY_MARGIN to spare at both ends: Stripe measures the window from when it receives
    the request, by its own clock, so latency and clock skew must never push it out."""
    latest = quote.created_at + MAX_SESSION_LIFETIME - EXPIRY_MARGIN
    earliest = quote.valid_until + MIN_SESSION_LIFETIME + EXPIRY_MARGIN
    return max(min(quote.valid_until + config.session_ttl_minutes * 60, latest), earliest)


def _line_item(line: PricedLine, currency: str, prices: CatalogMap, tax_behavior: str) -> dict[str, Any]:
    synced = prices.get(line.sku)
    if (synced and synced.unit_amount == line.unit_price and synced.currency == currency
            and synced.tax_behavior == tax_behavior):
        return {"price": synced.price_id, "quantity": line.quantity}
    price_data: dict[str, Any] = {"currency": currency.lower(), "unit_amount": line.unit_price,
                                  "tax_behavior": tax_behavior}
    if synced:
        price_data["product"] = synced.product_id
    else:
        price_data["product_data"] = {"name": line.name, "metadata": {"sku": line.sku}}
    return {"price_data": price_data, "quantity": line.quantity}


def _shipping_option(rate: ShippingRate, currency: str, tax_behavior: str) -> dict[str, Any]:
    if rate.rate_id:
        return {"shipping_rate": rate.rate_id}
    return {"shipping_rate_data": {
        "display_name": rate.name, "type": "fixed_amount", "tax_behavior": tax_behavior,
        "fixed_amount": {"amount": rate.amount, "currency": currency.lower()},
    }}


async def _check_totals(payments: Payments, session: CheckoutSession, quote: Quote) -> None:
    if session.amount_subtotal == quote.cart.total and session.currency == quote.cart.currency.lower():
        return
    await payments.expire_session(session.id)
    raise CheckoutMismatch(
        f"session {session.id} charges {session.amount_subtotal} {session.currency}, "
        f"quote says {quote.cart.total} {quote.cart.currency}"
    )


async def _record(store: Store, quote: Quote, session: CheckoutSession, generation: int, user_id: str | None,
                  guest_email: str | None, owner: str, now: int, hold: Reservation | None) -> None:
    expected = expected_charge(quote.cart.currency, quote.cart.total,
                               [(line.unit_price, line.quantity) for line in quote.cart.lines],
                               saving=quote.cart.discount)
    await put_record(store, session_record(session.id, quote.signature, user_id=user_id, guest_email=guest_email,
                                           owner=owner, expected=expected, now=now, hold=hold))
    await put_record(store, QuoteSession(quote.signature, session.id, session.status, session.url, generation,
                                         session.expires_at, now))


async def session_expired(store: Store, session_id: str) -> bool:
    """A session expired unpaid (checkout.session.expired): its quote's record says so, so
    the quote's next checkout makes a new one, and its stock hold is given back. False for
    a session this gateway did not make."""
    pointer = await get_record(store, CheckoutRecord, keys.session_pointer(session_id))
    if pointer is None:
        return False
    if pointer.quote_signature is None:
        return True  # a record of the replaced system without its quote: nothing to expire
    record = await get_record(store, QuoteSession, keys.quote_session(pointer.quote_signature, session_id))
    if record is not None and record.status != "expired":
        await put_record(store, replace(record, status="expired", checkout_url=None))
    await release_for_session(store, pointer, why="session expired")
    return True

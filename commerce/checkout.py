"""Quote → Stripe Checkout Session.

The session charges exactly the quote: one line per quote line at the quote's unit
price (the synced Stripe price when it matches, else ad-hoc price data on the synced
product). Success and cancel URLs come from configuration only. One quote has at most
one live session: a repeat returns the open (or completed) one; after it expired, a
new one is made. Every parameter is a function of the quote, the user and the
generation, so concurrent callers send identical requests under one idempotency key
and Stripe answers them all with the same session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from commerce.catalog_sync import CatalogMap
from commerce.payments import SOURCE, Payments
from commerce.pricing import PricedLine
from commerce.profiles import Claims, link_customer
from commerce.errors import ErrorCode
from commerce.quotes import Quote, QuoteRejected
from commerce.shipping import ShippingRate
from store import Store, keys

MAX_SESSION_LIFETIME = 24 * 3600


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


def session_view(session: Any) -> SessionView:
    currency = getattr(session, "currency", None)
    return SessionView(
        id=session.id, url=getattr(session, "url", None), status=session.status,
        payment_status=getattr(session, "payment_status", "unpaid"),
        expires_at=getattr(session, "expires_at", None),
        amount_total=getattr(session, "amount_total", None),
        currency=currency.upper() if currency else None,
    )


async def checkout_for_quote(
    store: Store, payments: Payments, prices: CatalogMap, config: CheckoutConfig, quote: Quote,
    *, user_id: str | None, user_email: str | None, guest_email: str | None, now: int,
) -> SessionView:
    """The quote's live session (even once the quote has expired), or a new one for an
    unexpired quote (QuoteRejected otherwise). The caller has checked the quote is genuine."""
    records = await quote_sessions(store, quote.signature)
    generation = 0
    if records:
        latest = records[0]
        session = await payments.retrieve_session(latest["stripeSessionId"])
        if session is not None and session.status in ("open", "complete"):
            return session_view(session)
        generation = latest["generation"] + 1
    if quote.expired(now):
        raise QuoteRejected(ErrorCode.QUOTE_EXPIRED, "This quote has expired; price the cart again.")
    customer = await ensure_customer(store, payments, user_id, user_email, now) if user_id else None
    params = session_params(quote, prices, config, user_id=user_id, customer=customer,
                            email=None if customer else guest_email)
    session = await payments.call(
        payments.client.v1.checkout.sessions.create_async, params=params,
        options={"idempotency_key": f"checkout-{quote.signature}-{generation}"},
    )
    await _check_totals(payments, session, quote)
    await _record(store, quote, session, generation, user_id, now)
    return session_view(session)


async def quote_sessions(store: Store, signature: str) -> list[dict]:
    """The quote's session records, latest generation first."""
    page = await store.query(keys.quote(signature).pk, prefix=keys.SESSION_PREFIX, limit=100)
    return sorted(page.items, key=lambda item: item["generation"], reverse=True)


def session_params(
    quote: Quote, prices: CatalogMap, config: CheckoutConfig, *, user_id: str | None,
    customer: str | None, email: str | None,
) -> dict[str, Any]:
    metadata = {"source": SOURCE, "quoteSignature": quote.signature}
    if user_id:
        metadata["userId"] = user_id
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [_line_item(line, quote.cart.currency, prices) for line in quote.cart.lines],
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
        params["shipping_options"] = [_shipping_option(r, quote.cart.currency) for r in config.shipping_rates]
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
    of 30 minutes to 24 hours for any session made while the quote is valid."""
    return min(quote.valid_until + config.session_ttl_minutes * 60,
               quote.created_at + MAX_SESSION_LIFETIME)


def _line_item(line: PricedLine, currency: str, prices: CatalogMap) -> dict[str, Any]:
    synced = prices.get(line.sku)
    if synced and synced.unit_amount == line.unit_price and synced.currency == currency:
        return {"price": synced.price_id, "quantity": line.quantity}
    price_data: dict[str, Any] = {"currency": currency.lower(), "unit_amount": line.unit_price}
    if synced:
        price_data["product"] = synced.product_id
    else:
        price_data["product_data"] = {"name": line.name, "metadata": {"sku": line.sku}}
    return {"price_data": price_data, "quantity": line.quantity}


def _shipping_option(rate: ShippingRate, currency: str) -> dict[str, Any]:
    if rate.rate_id:
        return {"shipping_rate": rate.rate_id}
    return {"shipping_rate_data": {
        "display_name": rate.name, "type": "fixed_amount",
        "fixed_amount": {"amount": rate.amount, "currency": currency.lower()},
    }}


async def ensure_customer(
    store: Store, payments: Payments, user_id: str, email: str | None, now: int
) -> str:
    """The user's Stripe customer id: created once, kept on the profile, reused."""
    profile = await store.get(keys.profile(user_id))
    if profile and profile.get(keys.CUSTOMER_ID):
        return profile[keys.CUSTOMER_ID]
    params: dict[str, Any] = {"metadata": {"userId": user_id, "source": SOURCE}}
    if email:
        params["email"] = email
    tag = hashlib.sha256(f"{user_id}\n{email}".encode()).hexdigest()[:16]
    customer = await payments.call(payments.client.v1.customers.create_async, params=params,
                                   options={"idempotency_key": f"customer-{tag}"})
    await link_customer(store, Claims(user_id, email, False), profile, customer.id)
    return customer.id


async def _check_totals(payments: Payments, session: Any, quote: Quote) -> None:
    if session.amount_subtotal == quote.cart.total and session.currency == quote.cart.currency.lower():
        return
    await payments.call(payments.client.v1.checkout.sessions.expire_async, session.id)
    raise CheckoutMismatch(
        f"session {session.id} charges {session.amount_subtotal} {session.currency}, "
        f"quote says {quote.cart.total} {quote.cart.currency}"
    )


async def _record(store: Store, quote: Quote, session: Any, generation: int,
                  user_id: str | None, now: int) -> None:
    pointer = keys.session_pointer(session.id)
    await store.put({
        keys.PK: pointer.pk, keys.SK: pointer.sk, keys.ENTITY: "SessionPointer",
        "quoteSignature": quote.signature, "stripeSessionId": session.id, "userId": user_id,
        "createdAt": now,
    })
    record = keys.quote_session(quote.signature, session.id)
    await store.put({
        keys.PK: record.pk, keys.SK: record.sk, keys.ENTITY: "CheckoutSession",
        "stripeSessionId": session.id, "status": session.status, "checkoutUrl": session.url,
        "generation": generation, "sessionExpiresAt": session.expires_at, "createdAt": now,
    })

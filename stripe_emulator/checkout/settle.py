"""Settling a session with a test card, delayed methods settling later, and expiry.

    4242424242424242  pays
    4000000000000002  is declined (402 card_declined); the session stays open
    4000000000001000  a delayed payment method: complete / unpaid, PaymentIntent processing
"""

from __future__ import annotations

import heapq
from typing import Any

from stripe_emulator import objects
from stripe_emulator.checkout.shipping import chosen_rate, shipping_address
from stripe_emulator.checkout.totals import recompute
from stripe_emulator.errors import card_declined, invalid, missing
from stripe_emulator.state import State

PAYING_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
DELAYED_CARD = "4000000000001000"
PAY_FIELDS = {"card_number", "email", "name", "line1", "line2", "city", "state", "postal_code", "country",
              "shipping_rate", "billing_country"}


def open_session(state: State, session_id: str) -> dict[str, Any]:
    """The session, expired first if its time is up."""
    session = state.sessions.get(session_id)
    if session is None:
        raise missing("checkout.session", session_id)
    if session["status"] == "open" and session["expires_at"] <= objects.now():
        expire(state, session)
    return session


def expire_overdue(state: State) -> int:
    """Expire every open session whose expires_at has passed (checkout.session.expired for
    each), as Stripe does on its own; how many. Sessions wait in a heap by expiry, so a
    call costs only what is due."""
    expired, now = 0, objects.now()
    while state.expiries and state.expiries[0][0] <= now:
        _, session_id = heapq.heappop(state.expiries)
        session = state.sessions.get(session_id)
        if session is not None and session["status"] == "open" and session["expires_at"] <= now:
            expire(state, session)
            expired += 1
    return expired


def expire(state: State, session: dict[str, Any]) -> None:
    previous = {"status": "open", "url": session["url"]}
    session.update(status="expired", url=None)
    state.emit("checkout.session.expired", session, previous)


def settle(state: State, session: dict[str, Any], form: dict[str, str]) -> str:
    """Pay an open session with the form's card: "paid" or "processing", or a StripeError
    (402 declined, 400 bad input). Nothing changes unless it succeeds."""
    unknown = set(form) - PAY_FIELDS
    if unknown:
        label = sorted(unknown)[0][:40]
        raise invalid(f"Received unknown parameter: {label}", param=label)
    if session["status"] != "open":
        raise invalid(f"This Checkout Session is {session['status']}.", code="checkout_session_not_open")
    card = (form.get("card_number") or "").replace(" ", "").replace("-", "")
    if card == DECLINED_CARD:
        raise card_declined()
    if card not in (PAYING_CARD, DELAYED_CARD):
        raise invalid("Use a test card: 4242424242424242 pays, 4000000000000002 is declined, "
                      "4000000000001000 is a delayed payment method.", param="card_number")
    email = (form.get("email") or "").strip() or session["customer_email"] or _customer_email(state, session)
    if not email or "@" not in email or len(email) > 512:
        raise invalid("An email address is required.", param="email")
    rate = chosen_rate(state, session, form.get("shipping_rate"))
    address = shipping_address(session, form)
    billing_country = (form.get("billing_country") or "US").strip().upper()
    if len(billing_country) != 2 or not billing_country.isascii() or not billing_country.isalpha():
        raise invalid("billing_country must be a two-letter country code.", param="billing_country")
    recompute(session, shipping=rate, country=(address or {}).get("country") or billing_country)
    name = (form.get("name") or "").strip()[:200] or None
    _record_customer_details(session, email, name, billing_country, address)
    return _start_payment(state, session, card)


def _record_customer_details(session: dict[str, Any], email: str, name: str | None, billing_country: str,
                             address: dict[str, Any] | None) -> None:
    session["customer_details"] = {
        "address": objects.address({"country": billing_country}), "business_name": None, "email": email,
        "individual_name": None, "name": name, "phone": None, "tax_exempt": "none", "tax_ids": [],
    }
    if address:
        session["collected_information"] = {
            "business_name": None, "individual_name": None,
            "shipping_details": {"address": objects.address(address), "name": name or ""}}


def _start_payment(state: State, session: dict[str, Any], card: str) -> str:
    delayed = card == DELAYED_CARD
    pi = objects.payment_intent(session, "processing" if delayed else "succeeded")
    state.payment_intents[pi["id"]] = pi
    session.update(status="complete", url=None, payment_intent=pi["id"],
                   payment_status="unpaid" if delayed else "paid")
    if delayed:
        state.emit("payment_intent.processing", pi)
    else:
        _charge(state, pi, session, card)
    state.emit("checkout.session.completed", session)
    return "processing" if delayed else "paid"


def settle_async(state: State, session: dict[str, Any], outcome: Any) -> None:
    if outcome not in ("succeeded", "failed"):
        raise invalid("outcome must be succeeded or failed.", param="outcome")
    if session["status"] != "complete" or session["payment_status"] != "unpaid":
        raise invalid("Only a complete, unpaid session (a delayed payment method) can be settled.", param="id")
    pi = state.payment_intents[session["payment_intent"]]
    if pi["status"] != "processing":
        raise invalid("This session's payment has already failed.", param="id")
    if outcome == "succeeded":
        _charge(state, pi, session, DELAYED_CARD)
        session["payment_status"] = "paid"
        state.emit("checkout.session.async_payment_succeeded", session, {"payment_status": "unpaid"})
    else:
        pi.update(status="requires_payment_method", last_payment_error={
            "type": "card_error", "code": "payment_method_failed",
            "message": "The delayed payment method failed."})
        state.emit("payment_intent.payment_failed", pi, {"status": "processing"})
        state.emit("checkout.session.async_payment_failed", session)


def _charge(state: State, pi: dict[str, Any], session: dict[str, Any], card: str) -> None:
    details = session["customer_details"] or {}
    made = objects.charge(pi, {"email": details.get("email"), "name": details.get("name"),
                               "address": details.get("address")}, card[-4:])
    state.charges[made["id"]] = made
    pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=made["id"])
    state.emit("charge.succeeded", made)
    state.emit("payment_intent.succeeded", pi)


def _customer_email(state: State, session: dict[str, Any]) -> str | None:
    customer = state.customers.get(session["customer"] or "")
    return customer["email"] if customer else None


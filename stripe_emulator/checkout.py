"""Checkout sessions: creation from parameters, totals, and settlement (pay, decline,
delayed methods, expiry)."""

from __future__ import annotations

import secrets
from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import StripeError, invalid
from stripe_emulator.ids import new_id
from stripe_emulator.params import (
    array, boolean, check_known, currency, integer, mapping, metadata, text,
)
from stripe_emulator.state import State, public

PAYING_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
DELAYED_CARD = "4000000000001000"
TAX_BASIS_POINTS = {"US": 800, "GB": 2000, "DE": 1900, "FR": 2000, "CA": 1300, "AU": 1000}
SESSION_PARAMS = {
    "mode", "line_items", "customer", "customer_email", "client_reference_id", "metadata",
    "success_url", "cancel_url", "expires_at", "discounts", "shipping_address_collection",
    "shipping_options", "automatic_tax", "payment_intent_data", "locale", "customer_update",
    "payment_method_types", "expand", "billing_address_collection", "submit_type",
}


def create_session(state: State, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    check_known(params, SESSION_PARAMS)
    mode = text(params, "mode", required=True)
    if mode != "payment":
        raise invalid("Only mode=payment is supported by this emulator.", param="mode")
    success_url = text(params, "success_url", required=True, max_length=5000)
    cancel_url = text(params, "cancel_url", max_length=5000)
    for name, url in (("success_url", success_url), ("cancel_url", cancel_url)):
        if url is not None and not url.startswith(("http://", "https://")):
            raise invalid(f"Not a valid URL: {name}", param=name)
    customer_id = text(params, "customer", max_length=255)
    email = text(params, "customer_email", max_length=800)
    if customer_id and email:
        raise invalid("You may only specify one of these parameters: customer, customer_email.",
                      param="customer_email")
    if customer_id and customer_id not in state.customers:
        raise invalid(f"No such customer: '{customer_id[:100]}'", param="customer", code="resource_missing")
    created = objects.now()
    expires_at = integer(params, "expires_at", minimum=0)
    if expires_at is None:
        expires_at = created + 24 * 3600
    elif not created + 1800 <= expires_at <= created + 24 * 3600:
        raise invalid("The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                      "Checkout Session creation.", param="expires_at")
    items = _line_items(state, params)
    session_currency = items[0]["currency"]
    discount = _discount(state, params, sum(i["amount_subtotal"] for i in items), session_currency)
    shipping_options = _shipping_options(state, params, session_currency)
    countries = _allowed_countries(params)
    tax = mapping(params, "automatic_tax") or {}
    tax_enabled = boolean(tax, "enabled", where="automatic_tax[enabled]") or False
    _check_customer_update(params, customer_id, countries)
    pi_data = mapping(params, "payment_intent_data") or {}
    check_known(pi_data, {"metadata", "description", "receipt_email"})
    session_id = "cs_test_" + new_id("", 58)
    session = {
        "id": session_id, "object": "checkout.session", "adaptive_pricing": {"enabled": False},
        "after_expiration": None, "allow_promotion_codes": None,
        "amount_subtotal": 0, "amount_total": 0,
        "automatic_tax": {"enabled": tax_enabled, "liability": {"type": "self"} if tax_enabled else None,
                          "provider": "stripe" if tax_enabled else None,
                          "status": "requires_location_inputs" if tax_enabled else None},
        "billing_address_collection": None, "cancel_url": cancel_url,
        "client_reference_id": text(params, "client_reference_id", max_length=200),
        "client_secret": None, "collected_information": None,
        "consent": None, "consent_collection": None, "created": created,
        "currency": session_currency, "currency_conversion": None, "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer": customer_id, "customer_account": None,
        "customer_creation": None if customer_id else "if_required",
        "customer_details": None, "customer_email": email,
        "discounts": [{"coupon": discount[0], "promotion_code": None}] if discount else [],
        "expires_at": expires_at, "integration_identifier": None, "invoice": None,
        "invoice_creation": {"enabled": False, "invoice_data": None}, "livemode": False,
        "locale": text(params, "locale", max_length=10), "managed_payments": None,
        "metadata": metadata(params) or {}, "mode": "payment", "origin_context": None,
        "payment_intent": None, "payment_link": None, "payment_method_collection": "if_required",
        "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": ["card"], "payment_status": "unpaid", "permissions": None,
        "phone_number_collection": {"enabled": False}, "recovered_from": None,
        "saved_payment_method_options": None, "setup_intent": None,
        "shipping_address_collection": {"allowed_countries": countries} if countries else None,
        "shipping_cost": None,
        "shipping_options": [{"shipping_amount": r["fixed_amount"]["amount"], "shipping_rate": r["id"]}
                             for r in shipping_options],
        "status": "open", "submit_type": None, "subscription": None, "success_url": success_url,
        "total_details": {"amount_discount": discount[1] if discount else 0, "amount_shipping": 0,
                          "amount_tax": 0},
        "ui_mode": "hosted", "url": f"{base_url}/pay/{session_id}", "wallet_options": None,
        "_line_items": items, "_pi_metadata": metadata(pi_data) or {},
        "_token": secrets.token_urlsafe(8),
    }
    recompute(session, shipping=shipping_options[0] if shipping_options else None, country=None)
    state.sessions[session_id] = session
    return session


def recompute(session: dict, *, shipping: dict | None, country: str | None) -> None:
    """amount_total = subtotal - discount + shipping + tax (tax only with automatic_tax)."""
    subtotal = sum(i["amount_subtotal"] for i in session["_line_items"])
    discount = session["total_details"]["amount_discount"]
    shipping_amount = shipping["fixed_amount"]["amount"] if shipping else 0
    tax = 0
    if session["automatic_tax"]["enabled"] and country is not None:
        rate = TAX_BASIS_POINTS.get(country, 0)
        tax = ((subtotal - discount + shipping_amount) * rate + 5000) // 10000
        session["automatic_tax"]["status"] = "complete"
    session["amount_subtotal"] = subtotal
    session["amount_total"] = subtotal - discount + shipping_amount + tax
    session["total_details"].update(amount_shipping=shipping_amount, amount_tax=tax)
    if shipping:
        session["shipping_cost"] = {"amount_subtotal": shipping_amount, "amount_tax": 0,
                                    "amount_total": shipping_amount, "shipping_rate": shipping["id"]}


def _line_items(state: State, params: dict) -> list[dict]:
    raw = array(params, "line_items", max_items=100)
    if not raw:
        raise invalid("Missing required param: line_items.", param="line_items")
    items = []
    for n, entry in enumerate(raw):
        where = f"line_items[{n}]"
        if not isinstance(entry, dict):
            raise invalid(f"Invalid object: {where}", param=where)
        check_known(entry, {"price", "price_data", "quantity", "adjustable_quantity", "tax_rates"})
        quantity = integer(entry, "quantity", required=True, minimum=1, maximum=999_999,
                           where=f"{where}[quantity]")
        price_id = text(entry, "price", max_length=255)
        if price_id:
            price = state.prices.get(price_id)
            if price is None or not price["active"]:
                raise invalid(f"No such price: '{price_id[:100]}'", param=f"{where}[price]",
                              code="resource_missing")
        else:
            price = _ad_hoc_price(state, mapping(entry, "price_data", where=f"{where}[price_data]"), where)
        product = state.products.get(price["product"])
        items.append(objects.line_item(public(price), quantity, product["name"] if product else ""))
    currencies = {i["currency"] for i in items}
    if len(currencies) > 1:
        raise invalid("All line items must be in one currency.", param="line_items")
    return items


def _ad_hoc_price(state: State, data: dict | None, where: str) -> dict:
    if data is None:
        raise invalid(f"Missing required param: {where}[price] or {where}[price_data].", param=where)
    check_known(data, {"currency", "unit_amount", "product", "product_data", "tax_behavior"})
    cur = currency(data, "currency", where=f"{where}[price_data][currency]")
    amount = integer(data, "unit_amount", required=True, maximum=99_999_999,
                     where=f"{where}[price_data][unit_amount]")
    product_id = text(data, "product", max_length=255)
    if product_id:
        if product_id not in state.products:
            raise invalid(f"No such product: '{product_id[:100]}'",
                          param=f"{where}[price_data][product]", code="resource_missing")
    else:
        product_data = mapping(data, "product_data", where=f"{where}[price_data][product_data]")
        if not product_data:
            raise invalid(f"Missing required param: {where}[price_data][product].",
                          param=f"{where}[price_data][product]")
        check_known(product_data, {"name", "description", "images", "metadata", "tax_code"})
        name = text(product_data, "name", required=True, max_length=250,
                    where=f"{where}[price_data][product_data][name]")
        made = objects.product({"name": name, "description": product_data.get("description"),
                                "metadata": metadata(product_data) or {}, "active": True})
        state.products[made["id"]] = made
        product_id = made["id"]
    made_price = objects.price({"currency": cur, "unit_amount": amount, "product": product_id,
                                "active": False})  # ad-hoc prices are not listed as active
    state.prices[made_price["id"]] = made_price
    return made_price


def _discount(state: State, params: dict, subtotal: int, cur: str) -> tuple[str, int] | None:
    raw = array(params, "discounts", max_items=1)
    if not raw:
        return None
    entry = raw[0] if isinstance(raw[0], dict) else {}
    coupon_id = text(entry, "coupon", required=True, where="discounts[0][coupon]")
    coupon = state.coupons.get(coupon_id)
    if coupon is None:
        raise invalid(f"No such coupon: '{coupon_id[:100]}'", param="discounts[0][coupon]",
                      code="resource_missing")
    if coupon["amount_off"] is not None:
        return coupon_id, min(subtotal, coupon["amount_off"])
    return coupon_id, (subtotal * int(coupon["_percent_bp"]) + 5000) // 10000


def _shipping_options(state: State, params: dict, cur: str) -> list[dict]:
    from stripe_emulator.resources import make_shipping_rate

    raw = array(params, "shipping_options", max_items=5) or []
    rates = []
    for n, entry in enumerate(raw):
        where = f"shipping_options[{n}]"
        if not isinstance(entry, dict):
            raise invalid(f"Invalid object: {where}", param=where)
        check_known(entry, {"shipping_rate", "shipping_rate_data"})
        rate_id = text(entry, "shipping_rate", max_length=255)
        if rate_id:
            rate = state.shipping_rates.get(rate_id)
            if rate is None:
                raise invalid(f"No such shipping rate: '{rate_id[:100]}'",
                              param=f"{where}[shipping_rate]", code="resource_missing")
        else:
            rate = make_shipping_rate(state, mapping(entry, "shipping_rate_data") or {},
                                      where=f"{where}[shipping_rate_data]")
        rates.append(rate)
    return rates


def _check_customer_update(params: dict, customer_id: str | None, countries: list[str]) -> None:
    update = mapping(params, "customer_update")
    if update is None:
        return
    if not customer_id:
        raise invalid("customer_update can only be used with customer.", param="customer_update")
    check_known(update, {"address", "name", "shipping"})
    for name, value in update.items():
        if value not in ("auto", "never"):
            raise invalid(f"customer_update[{name}] must be auto or never.", param=f"customer_update[{name}]")
    if update.get("shipping") == "auto" and not countries:
        raise invalid("customer_update[shipping] needs shipping_address_collection.",
                      param="customer_update[shipping]")


def _allowed_countries(params: dict) -> list[str]:
    collection = mapping(params, "shipping_address_collection")
    if not collection:
        return []
    countries = array(collection, "allowed_countries", where="shipping_address_collection[allowed_countries]",
                      max_items=250) or []
    for country in countries:
        if not (isinstance(country, str) and len(country) == 2 and country.isupper()):
            raise invalid(f"Invalid country: {str(country)[:10]}",
                          param="shipping_address_collection[allowed_countries]")
    return countries


# ---- settlement ---------------------------------------------------------------------

def open_session(state: State, session_id: str) -> dict:
    """The session, expired first if its time is up."""
    session = state.sessions.get(session_id)
    if session is None:
        raise StripeError(404, "invalid_request_error", f"No such checkout.session: '{session_id[:100]}'",
                          code="resource_missing", param="id")
    if session["status"] == "open" and session["expires_at"] <= objects.now():
        expire(state, session)
    return session


def expire(state: State, session: dict) -> None:
    session.update(status="expired", url=None)
    state.emit("checkout.session.expired", session)


def settle(state: State, session: dict, form: dict[str, Any]) -> str:
    """Pay an open session with the form's card. Returns "paid", "processing" or raises
    StripeError (402 declined, 400 bad input)."""
    if session["status"] != "open":
        raise invalid(f"This Checkout Session is {session['status']}.", code="checkout_session_not_open")
    card = (form.get("card_number") or "").replace(" ", "")
    if card == DECLINED_CARD:
        raise StripeError(402, "card_error", "Your card was declined.", code="card_declined",
                          decline_code="generic_decline")
    if card not in (PAYING_CARD, DELAYED_CARD):
        raise invalid("Use a test card: 4242424242424242 pays, 4000000000000002 is declined, "
                      "4000000000001000 is a delayed payment method.", param="card_number")
    email = (form.get("email") or "").strip() or session["customer_email"] or _customer_email(state, session)
    if not email or "@" not in email or len(email) > 512:
        raise invalid("An email address is required.", param="email")
    shipping_rate = _chosen_rate(state, session, form.get("shipping_rate"))
    address = _shipping_address(session, form)
    country = (address or {}).get("country") or (form.get("billing_country") or "US").upper()[:2]
    recompute(session, shipping=shipping_rate, country=country)
    name = (form.get("name") or "").strip()[:200] or None
    session["customer_details"] = {
        "address": objects._address({"country": country}), "business_name": None, "email": email,
        "individual_name": None, "name": name, "phone": None, "tax_exempt": "none", "tax_ids": [],
    }
    if address:
        session["collected_information"] = {
            "business_name": None, "individual_name": None,
            "shipping_details": {"address": objects._address(address), "name": name or ""}}
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


def settle_async(state: State, session: dict, outcome: str) -> None:
    if session["status"] != "complete" or session["payment_status"] != "unpaid":
        raise invalid("Only a complete, unpaid (delayed) session can be settled.", param="id")
    pi = state.payment_intents[session["payment_intent"]]
    if outcome == "succeeded":
        _charge(state, pi, session, DELAYED_CARD)
        session["payment_status"] = "paid"
        state.emit("checkout.session.async_payment_succeeded", session)
    elif outcome == "failed":
        pi.update(status="requires_payment_method",
                  last_payment_error={"type": "card_error", "code": "payment_method_failed"})
        state.emit("payment_intent.payment_failed", pi)
        state.emit("checkout.session.async_payment_failed", session)
    else:
        raise invalid("outcome must be succeeded or failed.", param="outcome")


def _charge(state: State, pi: dict, session: dict, card: str) -> None:
    details = session["customer_details"] or {}
    made = objects.charge(pi, {"email": details.get("email"), "name": details.get("name"),
                               "address": details.get("address")}, card[-4:])
    state.charges[made["id"]] = made
    pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=made["id"])
    state.emit("charge.succeeded", made)
    state.emit("payment_intent.succeeded", pi)


def _customer_email(state: State, session: dict) -> str | None:
    customer = state.customers.get(session["customer"] or "")
    return customer["email"] if customer else None


def _chosen_rate(state: State, session: dict, chosen: Any) -> dict | None:
    offered = [o["shipping_rate"] for o in session["shipping_options"]]
    if not offered:
        return None
    if chosen in (None, ""):
        return state.shipping_rates[offered[0]]
    if chosen not in offered:
        raise invalid("Choose one of the offered shipping options.", param="shipping_rate")
    return state.shipping_rates[chosen]


def _shipping_address(session: dict, form: dict) -> dict | None:
    collection = session["shipping_address_collection"]
    if not collection:
        return None
    address = {k: (str(form.get(k) or "").strip()[:200] or None)
               for k in ("line1", "line2", "city", "state", "postal_code")}
    address["country"] = str(form.get("country") or "").strip().upper()[:2] or None
    if not address["line1"] or not address["city"] or not address["postal_code"]:
        raise invalid("A shipping address (line 1, city, postal code) is required.", param="line1")
    if address["country"] not in collection["allowed_countries"]:
        raise invalid("We do not ship to that country.", param="country")
    return address

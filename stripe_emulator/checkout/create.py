"""Creating a checkout session (payment mode) from its parameters."""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.checkout.line_items import line_items
from stripe_emulator.checkout.shipping import allowed_countries, shipping_options
from stripe_emulator.checkout.totals import coupon_from, discount_amount, recompute
from stripe_emulator.errors import invalid
from stripe_emulator.ids import new_id
from stripe_emulator.params import (
    boolean,
    check_known,
    integer,
    mapping,
    metadata,
    strings,
    text,
)
from stripe_emulator.state import State

SESSION_PARAMS = {
    "mode", "line_items", "customer", "customer_email", "client_reference_id", "metadata",
    "success_url", "cancel_url", "expires_at", "discounts", "shipping_address_collection",
    "shipping_options", "automatic_tax", "payment_intent_data", "locale", "customer_update",
    "payment_method_types", "expand", "billing_address_collection", "submit_type", "customer_creation",
    "ui_mode",
}
MIN_LIFETIME, MAX_LIFETIME = 30 * 60, 24 * 3600
# Stripe's minimum charge per currency, in minor units (its currencies guide); others: 50.
MINIMUM_CHARGE = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000,
    "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
}


def create_session(state: State, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    check_known(params, SESSION_PARAMS)
    if text(params, "mode", required=True) != "payment":
        raise invalid("Only mode=payment is supported by this emulator.", param="mode")
    created = objects.now()
    items = line_items(state, params)
    session_currency = items[0]["currency"]
    coupon = coupon_from(state, params)
    rates = shipping_options(state, params, session_currency)
    countries = allowed_countries(params)
    customer_id = _customer(state, params)
    automatic_tax = mapping(params, "automatic_tax") or {}
    check_known(automatic_tax, {"enabled", "liability"}, "automatic_tax")
    pi_data = mapping(params, "payment_intent_data") or {}
    check_known(pi_data, {"metadata", "description", "receipt_email", "shipping", "statement_descriptor"},
                "payment_intent_data")
    _check_customer_update(params, customer_id, countries)
    strings(params, "payment_method_types", max_items=10, max_length=50)
    _ui_mode(params)
    session = _shape(new_id("cs_test_", 58), created, base_url) | {
        "amount_subtotal": 0, "amount_total": 0,
        "automatic_tax": _automatic_tax(boolean(automatic_tax, "enabled", where="automatic_tax[enabled]")),
        "billing_address_collection": text(params, "billing_address_collection", max_length=20),
        "cancel_url": _url(params, "cancel_url"),
        "client_reference_id": text(params, "client_reference_id", max_length=200),
        "currency": session_currency, "customer": customer_id,
        "customer_creation": None if customer_id else "if_required",
        "customer_email": None if customer_id else text(params, "customer_email", max_length=800),
        "discounts": [{"coupon": coupon["id"], "promotion_code": None}] if coupon else [],
        "expires_at": _expires_at(params, created),
        "locale": text(params, "locale", max_length=10), "metadata": metadata(params) or {},
        "shipping_address_collection": {"allowed_countries": countries} if countries else None,
        "shipping_options": [{"shipping_amount": r["fixed_amount"]["amount"], "shipping_rate": r["id"]}
                             for r in rates],
        "submit_type": text(params, "submit_type", max_length=20),
        "success_url": _url(params, "success_url", required=True),
        "total_details": {"amount_discount": discount_amount(coupon, sum(i["amount_subtotal"] for i in items),
                                                             session_currency),
                          "amount_shipping": 0, "amount_tax": 0},
        "_line_items": items, "_pi_metadata": metadata(pi_data, where="payment_intent_data[metadata]") or {},
    }
    if session["automatic_tax"]["enabled"]:
        _check_tax_behaviors(items, rates)
    recompute(session, shipping=rates[0] if rates else None, country=None)
    minimum = MINIMUM_CHARGE.get(session_currency, 50)
    if 0 < session["amount_total"] < minimum:
        raise invalid(f"The Checkout Session's total amount due must add up to at least {minimum} "
                      f"{session_currency} (in minor units).", param="line_items", code="amount_too_small")
    state.sessions[session["id"]] = session
    return session


def _ui_mode(params: dict[str, Any]) -> str:
    """hosted_page, the API version's default and the only one this emulator serves."""
    mode = text(params, "ui_mode", max_length=20) or "hosted_page"
    if mode != "hosted_page":
        raise invalid(f"ui_mode={mode[:20]} is not supported by this emulator (only hosted_page).",
                      param="ui_mode")
    return mode


def _check_tax_behaviors(items: list[dict[str, Any]], rates: list[dict[str, Any]]) -> None:
    """As on an account with no default tax behavior set in its tax settings: Stripe Tax
    must be told whether each price and shipping rate includes tax."""
    for n, item in enumerate(items):
        if item["price"].get("tax_behavior", "unspecified") == "unspecified":
            raise invalid("Stripe Tax cannot calculate tax for a price with tax_behavior unspecified; set "
                          "tax_behavior on the price, or a default tax behavior in your tax settings.",
                          param=f"line_items[{n}]")
    for n, rate in enumerate(rates):
        if rate.get("tax_behavior", "unspecified") == "unspecified":
            raise invalid("Stripe Tax cannot calculate tax for a shipping rate with tax_behavior unspecified.",
                          param=f"shipping_options[{n}]")


def _customer(state: State, params: dict[str, Any]) -> str | None:
    customer_id = text(params, "customer", max_length=255)
    email = text(params, "customer_email", max_length=800)
    if customer_id and email:
        raise invalid("You may only specify one of these parameters: customer, customer_email.",
                      param="customer_email")
    if email is not None and "@" not in email:
        raise invalid("Invalid email address: customer_email", param="customer_email", code="email_invalid")
    if customer_id and customer_id not in state.customers:
        raise invalid(f"No such customer: '{customer_id[:100]}'", param="customer", code="resource_missing")
    return customer_id


def _url(params: dict[str, Any], name: str, required: bool = False) -> str | None:
    url = text(params, name, required=required, max_length=5000)
    if url is not None and not url.startswith(("http://", "https://")):
        raise invalid(f"Not a valid URL: {name}", param=name, code="url_invalid")
    return url


def _expires_at(params: dict[str, Any], created: int) -> int:
    expires_at = integer(params, "expires_at", minimum=0)
    if expires_at is None:
        return created + MAX_LIFETIME
    if not created + MIN_LIFETIME <= expires_at <= created + MAX_LIFETIME:
        raise invalid("The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                      "Checkout Session creation.", param="expires_at")
    return expires_at


def _automatic_tax(enabled: bool | None) -> dict[str, Any]:
    if not enabled:
        return {"enabled": False, "liability": None, "provider": None, "status": None}
    return {"enabled": True, "liability": {"type": "self"}, "provider": "stripe",
            "status": "requires_location_inputs"}


def _check_customer_update(params: dict[str, Any], customer_id: str | None, countries: list[str]) -> None:
    update = mapping(params, "customer_update")
    if update is None:
        return
    if not customer_id:
        raise invalid("customer_update can only be used with customer.", param="customer_update")
    check_known(update, {"address", "name", "shipping"}, "customer_update")
    for name, value in update.items():
        if value not in ("auto", "never"):
            raise invalid(f"customer_update[{name}] must be auto or never.", param=f"customer_update[{name}]")
    if update.get("shipping") == "auto" and not countries:
        raise invalid("customer_update[shipping] needs shipping_address_collection.",
                      param="customer_update[shipping]")


def _shape(session_id: str, created: int, base_url: str) -> dict[str, Any]:
    """The fields this emulator keeps at Stripe's defaults."""
    return {
        "id": session_id, "object": "checkout.session", "adaptive_pricing": {"enabled": False},
        "after_expiration": None, "allow_promotion_codes": None, "client_secret": None,
        "collected_information": None, "consent": None, "consent_collection": None, "created": created,
        "currency_conversion": None, "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer_account": None, "customer_details": None, "integration_identifier": None, "invoice": None,
        "invoice_creation": {"enabled": False, "invoice_data": {
            "account_tax_ids": None, "custom_fields": None, "description": None, "footer": None,
            "issuer": None, "metadata": {}, "rendering_options": None}},
        "livemode": False, "managed_payments": None, "mode": "payment", "origin_context": None,
        "payment_intent": None, "payment_link": None, "payment_method_collection": "if_required",
        "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": ["card"], "payment_status": "unpaid", "permissions": None,
        "phone_number_collection": {"enabled": False}, "recovered_from": None,
        "saved_payment_method_options": None, "setup_intent": None, "shipping_cost": None,
        "status": "open", "subscription": None, "ui_mode": "hosted_page",
        "url": f"{base_url}/pay/{session_id}", "wallet_options": None,
    }

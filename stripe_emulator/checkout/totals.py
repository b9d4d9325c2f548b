"""A session's money: amount_total = subtotal - discount + shipping + tax, in minor units.

Tax (only with automatic_tax[enabled]) is a fixed rate by country, in basis points, on
(subtotal - discount + shipping), rounded half up."""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import invalid
from stripe_emulator.params import array, check_known, text
from stripe_emulator.state import State

TAX_BASIS_POINTS = {"US": 800, "GB": 2000, "DE": 1900, "FR": 2000, "CA": 1300, "AU": 1000}


def tax_on(amount: int, country: str) -> int:
    return (amount * TAX_BASIS_POINTS.get(country, 0) + 5000) // 10000


def coupon_from(state: State, params: dict[str, Any]) -> dict[str, Any] | None:
    raw = array(params, "discounts", max_items=1)
    if not raw:
        return None
    if not isinstance(raw[0], dict):
        raise invalid("Invalid object: discounts[0]", param="discounts[0]")
    check_known(raw[0], {"coupon", "promotion_code"}, "discounts[0]")
    coupon_id = text(raw[0], "coupon", required=True, max_length=255, where="discounts[0][coupon]")
    coupon = state.coupons.get(coupon_id)
    if coupon is None:
        raise invalid(f"No such coupon: '{coupon_id[:100]}'", param="discounts[0][coupon]", code="resource_missing")
    return coupon


def discount_amount(coupon: dict[str, Any] | None, subtotal: int, session_currency: str) -> int:
    if coupon is None:
        return 0
    if coupon["amount_off"] is not None:
        if coupon["currency"] != session_currency:
            raise invalid("The coupon's currency is not the session's.", param="discounts[0][coupon]")
        return min(subtotal, coupon["amount_off"])
    return (subtotal * coupon["_percent_bp"] + 5000) // 10000


def recompute(session: dict[str, Any], *, shipping: dict[str, Any] | None, country: str | None) -> None:
    items = session["_line_items"]
    subtotal = sum(i["amount_subtotal"] for i in items)
    discount = session["total_details"]["amount_discount"]
    _spread_discount(items, discount)
    shipping_amount = shipping["fixed_amount"]["amount"] if shipping else 0
    tax = 0
    if session["automatic_tax"]["enabled"] and country is not None:
        tax = tax_on(subtotal - discount + shipping_amount, country)
        session["automatic_tax"]["status"] = "complete"
        session["_tax_country"] = country
    session["amount_subtotal"] = subtotal
    session["amount_total"] = subtotal - discount + shipping_amount + tax
    session["total_details"].update(amount_shipping=shipping_amount, amount_tax=tax)
    if shipping:
        session["shipping_cost"] = {"amount_subtotal": shipping_amount, "amount_tax": 0,
                                    "amount_total": shipping_amount, "shipping_rate": shipping["id"]}


def _spread_discount(items: list[dict[str, Any]], discount: int) -> None:
    """Each line item carries its share of the discount; the last takes the remainder."""
    subtotal = sum(i["amount_subtotal"] for i in items) or 1
    left = discount
    for n, item in enumerate(items):
        share = left if n == len(items) - 1 else discount * item["amount_subtotal"] // subtotal
        left -= share
        item["amount_discount"] = share
        item["amount_total"] = item["amount_subtotal"] - share + item["amount_tax"]


def breakdown(state: State, session: dict[str, Any]) -> dict[str, Any]:
    """`total_details.breakdown`, shown only when expanded."""
    stored = state.sessions[session["id"]]
    discounts = []
    for entry in stored["discounts"]:
        coupon = state.coupons.get(entry["coupon"])
        if coupon is not None:
            discounts.append({"amount": stored["total_details"]["amount_discount"],
                              "discount": objects.discount(coupon, stored)})
    taxes = []
    country = stored.get("_tax_country")
    if country is not None and stored["total_details"]["amount_tax"]:
        taxes.append({"amount": stored["total_details"]["amount_tax"],
                      "rate": objects.tax_rate(country, TAX_BASIS_POINTS.get(country, 0)),
                      "taxability_reason": "standard_rated",
                      "taxable_amount": stored["amount_total"] - stored["total_details"]["amount_tax"]})
    return {"discounts": discounts, "taxes": taxes}

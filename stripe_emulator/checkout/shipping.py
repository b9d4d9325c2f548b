"""Shipping: fixed-amount shipping rates (`/v1/shipping_rates` and inline
`shipping_rate_data`), the countries a session ships to, and the customer's choice."""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import invalid
from stripe_emulator.params import (
    array,
    check_known,
    currency,
    integer,
    mapping,
    metadata,
    tax_behavior,
    text,
)
from stripe_emulator.state import State

SHIPPING_RATE_PARAMS = {"display_name", "type", "fixed_amount", "metadata", "tax_behavior",
                        "tax_code", "delivery_estimate"}


def make_shipping_rate(state: State, data: dict[str, Any], where: str | None = None) -> dict[str, Any]:
    def at(*names: str) -> str:
        first = f"{where}[{names[0]}]" if where else names[0]
        return first + "".join(f"[{n}]" for n in names[1:])

    check_known(data, SHIPPING_RATE_PARAMS, where)
    if (text(data, "type", where=at("type")) or "fixed_amount") != "fixed_amount":
        raise invalid("Only fixed_amount shipping rates are supported.", param=at("type"))
    fixed = mapping(data, "fixed_amount", where=at("fixed_amount"))
    if fixed is None:
        raise invalid(f"Missing required param: {at('fixed_amount')}.", param=at("fixed_amount"))
    check_known(fixed, {"amount", "currency", "currency_options"}, at("fixed_amount"))
    made = objects.shipping_rate({
        "display_name": text(data, "display_name", required=True, max_length=100, where=at("display_name")),
        "amount": integer(fixed, "amount", required=True, maximum=99_999_999, where=at("fixed_amount", "amount")),
        "currency": currency(fixed, "currency", where=at("fixed_amount", "currency")),
        "metadata": metadata(data, where=at("metadata")),
        "tax_behavior": tax_behavior(data, where=at("tax_behavior"))})
    state.shipping_rates[made["id"]] = made
    return made


def shipping_options(state: State, params: dict[str, Any], session_currency: str) -> list[dict[str, Any]]:
    raw = array(params, "shipping_options", max_items=5) or []
    rates = []
    for n, entry in enumerate(raw):
        where = f"shipping_options[{n}]"
        if not isinstance(entry, dict):
            raise invalid(f"Invalid object: {where}", param=where)
        check_known(entry, {"shipping_rate", "shipping_rate_data"}, where)
        rate_id = text(entry, "shipping_rate", max_length=255, where=f"{where}[shipping_rate]")
        if rate_id:
            rate = state.shipping_rates.get(rate_id)
            if rate is None:
                raise invalid(f"No such shipping rate: '{rate_id[:100]}'", param=f"{where}[shipping_rate]",
                              code="resource_missing")
        else:
            data = mapping(entry, "shipping_rate_data", where=f"{where}[shipping_rate_data]")
            if data is None:
                raise invalid(f"Missing required param: {where}[shipping_rate].", param=f"{where}[shipping_rate]")
            rate = make_shipping_rate(state, data, where=f"{where}[shipping_rate_data]")
        if rate["fixed_amount"]["currency"] != session_currency:
            raise invalid("Shipping options must be in the currency of the line items.", param=where)
        rates.append(rate)
    return rates


def allowed_countries(params: dict[str, Any]) -> list[str]:
    collection = mapping(params, "shipping_address_collection")
    if not collection:
        return []
    where = "shipping_address_collection[allowed_countries]"
    check_known(collection, {"allowed_countries"}, "shipping_address_collection")
    countries = array(collection, "allowed_countries", where=where, max_items=250) or []
    for country in countries:
        if not (isinstance(country, str) and len(country) == 2 and country.isascii() and country.isupper()):
            raise invalid(f"Invalid country: {str(country)[:10]}", param=where)
    if not countries:
        raise invalid(f"Missing required param: {where}.", param=where)
    return countries


def chosen_rate(state: State, session: dict[str, Any], chosen: Any) -> dict[str, Any] | None:
    offered = [o["shipping_rate"] for o in session["shipping_options"]]
    if not offered:
        return None
    if chosen in (None, ""):
        return state.shipping_rates[offered[0]]
    if chosen not in offered:
        raise invalid("Choose one of the offered shipping options.", param="shipping_rate")
    return state.shipping_rates[chosen]


def shipping_address(session: dict[str, Any], form: dict[str, str]) -> dict[str, str | None] | None:
    collection = session["shipping_address_collection"]
    if not collection:
        return None
    address = {k: (form.get(k) or "").strip()[:200] or None
               for k in ("line1", "line2", "city", "state", "postal_code")}
    address["country"] = (form.get("country") or "").strip().upper()[:2] or None
    if not address["line1"] or not address["city"] or not address["postal_code"]:
        raise invalid("A shipping address (line 1, city, postal code) is required.", param="line1")
    if address["country"] not in collection["allowed_countries"]:
        raise invalid("We do not ship to that country.", param="country")
    return address

"""A session's line items, from `line_items[n]` by `price` or `price_data` (which makes a
product and an inactive price, as Stripe does)."""

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
    strings,
    tax_behavior,
    text,
)
from stripe_emulator.state import State, public

MAX_UNIT_AMOUNT = 99_999_999


def line_items(state: State, params: dict[str, Any]) -> list[dict[str, Any]]:
    raw = array(params, "line_items", max_items=100)
    if not raw:
        raise invalid("Missing required param: line_items.", param="line_items")
    items = [_line_item(state, entry, f"line_items[{n}]") for n, entry in enumerate(raw)]
    if len({i["currency"] for i in items}) > 1:
        raise invalid("All line items must be in one currency.", param="line_items")
    return items


def _line_item(state: State, entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise invalid(f"Invalid object: {where}", param=where)
    check_known(entry, {"price", "price_data", "quantity", "adjustable_quantity", "tax_rates"}, where)
    quantity = integer(entry, "quantity", required=True, minimum=1, maximum=999_999, where=f"{where}[quantity]")
    price_id = text(entry, "price", max_length=255, where=f"{where}[price]")
    if price_id:
        price = state.prices.get(price_id)
        if price is None or not price["active"]:
            raise invalid(f"No such price: '{price_id[:100]}'", param=f"{where}[price]", code="resource_missing")
    else:
        price = _ad_hoc_price(state, mapping(entry, "price_data", where=f"{where}[price_data]"), where)
    product = state.products.get(price["product"])
    return objects.line_item(public(price), quantity, product["name"] if product else "")


def _ad_hoc_price(state: State, data: dict | None, where: str) -> dict[str, Any]:
    if data is None:
        raise invalid(f"Missing required param: {where}[price] or {where}[price_data].", param=where)
    where = f"{where}[price_data]"
    check_known(data, {"currency", "unit_amount", "unit_amount_decimal", "product", "product_data",
                       "tax_behavior"}, where)
    cur = currency(data, "currency", where=f"{where}[currency]")
    amount = integer(data, "unit_amount", required=True, maximum=MAX_UNIT_AMOUNT, where=f"{where}[unit_amount]")
    product_id = text(data, "product", max_length=255, where=f"{where}[product]")
    if product_id:
        if product_id not in state.products:
            raise invalid(f"No such product: '{product_id[:100]}'", param=f"{where}[product]",
                          code="resource_missing")
    else:
        product_id = _ad_hoc_product(state, mapping(data, "product_data", where=f"{where}[product_data]"),
                                     f"{where}[product_data]")
    made = objects.price({"currency": cur, "unit_amount": amount, "product": product_id, "active": False,
                          "tax_behavior": tax_behavior(data, where=f"{where}[tax_behavior]")})
    state.prices[made["id"]] = made
    return made


def _ad_hoc_product(state: State, data: dict | None, where: str) -> str:
    if not data:
        raise invalid(f"Missing required param: {where}[name].", param=f"{where}[name]")
    check_known(data, {"name", "description", "images", "metadata", "tax_code", "unit_label"}, where)
    made = objects.product({
        "name": text(data, "name", required=True, max_length=250, where=f"{where}[name]"),
        "description": text(data, "description", where=f"{where}[description]"),
        "images": strings(data, "images", max_items=8, max_length=2048, where=f"{where}[images]"),
        "metadata": metadata(data, where=f"{where}[metadata]")})
    state.products[made["id"]] = made
    return made["id"]


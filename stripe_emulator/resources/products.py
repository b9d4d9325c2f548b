"""Products and prices. A lookup_key belongs to one price; transfer_lookup_key moves it."""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import invalid
from stripe_emulator.listing import LIST_PARAMS
from stripe_emulator.params import (
    boolean,
    check_known,
    currency,
    integer,
    mapping,
    merge_metadata,
    metadata,
    strings,
    tax_behavior,
    text,
)
from stripe_emulator.resources.call import Call, Handler, retrieve
from stripe_emulator.state import State

PRODUCT_PARAMS = {"name", "active", "description", "images", "metadata", "id", "expand", "shippable",
                  "statement_descriptor", "tax_code", "unit_label", "url"}
PRICE_PARAMS = {"currency", "unit_amount", "product", "product_data", "lookup_key", "transfer_lookup_key",
                "active", "metadata", "nickname", "expand", "tax_behavior"}


def create_product(call: Call) -> dict[str, Any]:
    p = call.params
    check_known(p, PRODUCT_PARAMS)
    product_id = text(p, "id", max_length=100)
    if product_id is not None and (not product_id or product_id in call.state.products):
        raise invalid("A product with this id already exists.", param="id", code="resource_already_exists")
    made = objects.product({
        "id": product_id, "name": text(p, "name", required=True, max_length=250),
        "active": boolean(p, "active") is not False, "description": text(p, "description", max_length=40000),
        "images": strings(p, "images", max_items=8, max_length=2048), "metadata": metadata(p)})
    call.state.products[made["id"]] = made
    call.state.emit("product.created", made)
    return call.show(made)


def update_product(call: Call) -> dict[str, Any]:
    product = call.get("products", "product")
    p = call.params
    check_known(p, PRODUCT_PARAMS - {"id"})
    previous: dict[str, Any] = {}
    changes = {"name": text(p, "name", max_length=250), "active": boolean(p, "active"),
               "description": text(p, "description", max_length=40000),
               "images": strings(p, "images", max_items=8, max_length=2048)}
    for name, value in changes.items():
        if value is not None and product[name] != value:
            previous[name] = product[name]
            product[name] = value
    if (md := metadata(p)) is not None:
        previous["metadata"] = dict(product["metadata"])
        product["metadata"] = merge_metadata(product["metadata"], md, p)
    product["updated"] = objects.now()
    if previous:
        call.state.emit("product.updated", product, previous)
    return call.show(product)


def list_products(call: Call) -> dict[str, Any]:
    check_known(call.params, LIST_PARAMS | {"active", "ids", "shippable", "url"})
    active = boolean(call.params, "active")
    ids = strings(call.params, "ids", max_items=100, max_length=255)
    rows = [p for p in call.state.products.values()
            if (active is None or p["active"] == active) and (ids is None or p["id"] in ids)]
    return call.page(rows, "/v1/products")


def create_price(call: Call) -> dict[str, Any]:
    p = call.params
    check_known(p, PRICE_PARAMS)
    product_id = text(p, "product", max_length=255)
    if product_id:
        call.get("products", "product", product_id)
    else:
        product_id = _product_from_data(call.state, mapping(p, "product_data"))
    lookup_key = text(p, "lookup_key", max_length=200)
    _claim_lookup_key(call.state, lookup_key, boolean(p, "transfer_lookup_key"))
    made = objects.price({
        "currency": currency(p, "currency"), "product": product_id, "lookup_key": lookup_key,
        "unit_amount": integer(p, "unit_amount", required=True, maximum=99_999_999),
        "active": boolean(p, "active") is not False, "metadata": metadata(p),
        "nickname": text(p, "nickname", max_length=5000), "tax_behavior": tax_behavior(p)})
    call.state.prices[made["id"]] = made
    call.state.emit("price.created", made)
    return call.show(made)


def _product_from_data(state: State, data: dict | None) -> str:
    if data is None:
        raise invalid("Missing required param: product.", param="product")
    check_known(data, {"name", "active", "metadata", "id", "statement_descriptor", "tax_code", "unit_label"},
                "product_data")
    made = objects.product({"name": text(data, "name", required=True, max_length=250, where="product_data[name]"),
                            "active": boolean(data, "active", where="product_data[active]") is not False,
                            "metadata": metadata(data, where="product_data[metadata]")})
    state.products[made["id"]] = made
    state.emit("product.created", made)
    return made["id"]


def _claim_lookup_key(state: State, key: str | None, transfer: bool | None) -> None:
    if not key:
        return
    for other in state.prices.values():
        if other["lookup_key"] == key:
            if not transfer:
                raise invalid(f"A price (`{other['id']}`) already uses that lookup key.", param="lookup_key")
            other["lookup_key"] = None


def update_price(call: Call) -> dict[str, Any]:
    price = call.get("prices", "price")
    p = call.params
    check_known(p, {"active", "metadata", "lookup_key", "transfer_lookup_key", "nickname", "expand",
                    "tax_behavior"})
    previous: dict[str, Any] = {}
    if "tax_behavior" in p:
        wanted = tax_behavior(p)
        if price["tax_behavior"] != "unspecified" and wanted != price["tax_behavior"]:
            raise invalid("A price's tax_behavior cannot be changed once it is set.", param="tax_behavior")
        previous["tax_behavior"], price["tax_behavior"] = price["tax_behavior"], wanted
    if (active := boolean(p, "active")) is not None and active != price["active"]:
        previous["active"], price["active"] = price["active"], active
    if (md := metadata(p)) is not None:
        previous["metadata"] = dict(price["metadata"])
        price["metadata"] = merge_metadata(price["metadata"], md, p)
    if "lookup_key" in p:
        key = text(p, "lookup_key", max_length=200) or None
        if key != price["lookup_key"]:
            _claim_lookup_key(call.state, key, boolean(p, "transfer_lookup_key"))
            previous["lookup_key"], price["lookup_key"] = price["lookup_key"], key
    if (nickname := text(p, "nickname", max_length=5000)) is not None:
        previous["nickname"], price["nickname"] = price["nickname"], nickname
    if previous:
        call.state.emit("price.updated", price, previous)
    return call.show(price)


def list_prices(call: Call) -> dict[str, Any]:
    p = call.params
    check_known(p, LIST_PARAMS | {"lookup_keys", "product", "active", "currency", "type"})
    keys = strings(p, "lookup_keys", max_items=10, max_length=200)
    product, cur = text(p, "product", max_length=255), currency(p, "currency", required=False)
    active = boolean(p, "active")
    rows = [x for x in call.state.prices.values()
            if (keys is None or x["lookup_key"] in keys) and (product is None or x["product"] == product)
            and (active is None or x["active"] == active) and (cur is None or x["currency"] == cur)]
    return call.page(rows, "/v1/prices")


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/products", create_product),
    ("GET", "/v1/products", list_products),
    ("GET", "/v1/products/{id}", retrieve("products", "product")),
    ("POST", "/v1/products/{id}", update_product),
    ("POST", "/v1/prices", create_price),
    ("GET", "/v1/prices", list_prices),
    ("GET", "/v1/prices/{id}", retrieve("prices", "price")),
    ("POST", "/v1/prices/{id}", update_price),
]

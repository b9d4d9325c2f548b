"""The /v1 resources: products, prices, customers, coupons, shipping rates, checkout
sessions, payment intents, charges, refunds, disputes, events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from stripe_emulator import checkout, objects
from stripe_emulator.errors import StripeError, invalid, missing
from stripe_emulator.listing import LIST_PARAMS, expand, paginate
from stripe_emulator.params import (
    array, boolean, check_known, currency, integer, mapping, metadata, text,
)
from stripe_emulator.state import State, public


@dataclass
class Call:
    state: State
    params: dict[str, Any]
    ids: dict[str, str]  # path parameters
    base_url: str  # where this emulator is reached, for pay page URLs


def _get(state: State, collection: str, object_id: str, name: str) -> dict:
    found = state.collection(collection).get(object_id)
    if found is None:
        raise missing(name, object_id)
    return found


def _out(call: Call, obj: dict, extra: dict | None = None) -> dict:
    return expand(call.state, public(obj), call.params, extra)


# ---- products and prices -------------------------------------------------------------

PRODUCT_FIELDS = {"name", "active", "description", "images", "metadata", "id", "expand"}


def create_product(call: Call) -> dict:
    p = call.params
    check_known(p, PRODUCT_FIELDS)
    product_id = text(p, "id", max_length=100)
    if product_id and product_id in call.state.products:
        raise invalid(f"Product already exists.", param="id", code="resource_already_exists")
    made = objects.product({
        "id": product_id, "name": text(p, "name", required=True, max_length=250),
        "active": boolean(p, "active") is not False, "description": text(p, "description"),
        "images": array(p, "images", max_items=8), "metadata": metadata(p)})
    call.state.products[made["id"]] = made
    call.state.emit("product.created", made)
    return _out(call, made)


def update_product(call: Call) -> dict:
    product = _get(call.state, "products", call.ids["id"], "product")
    p = call.params
    check_known(p, PRODUCT_FIELDS - {"id"})
    previous = {}
    for name, value in (("name", text(p, "name", max_length=250)), ("active", boolean(p, "active")),
                        ("description", text(p, "description"))):
        if value is not None and product[name] != value:
            previous[name] = product[name]
            product[name] = value
    if (md := metadata(p)) is not None:
        product["metadata"] = {**product["metadata"], **md}
    product["updated"] = objects.now()
    if previous:
        call.state.emit("product.updated", product, previous)
    return _out(call, product)


def list_products(call: Call) -> dict:
    check_known(call.params, LIST_PARAMS | {"active"})
    active = boolean(call.params, "active")
    rows = [p for p in call.state.products.values() if active is None or p["active"] == active]
    return paginate(rows, call.params, "/v1/products")


def create_price(call: Call) -> dict:
    p = call.params
    check_known(p, {"currency", "unit_amount", "product", "product_data", "lookup_key",
                    "transfer_lookup_key", "active", "metadata", "nickname", "expand", "tax_behavior"})
    product_id = text(p, "product", max_length=255)
    if product_id:
        _get(call.state, "products", product_id, "product")
    else:
        data = mapping(p, "product_data") or {}
        made = objects.product({"name": text(data, "name", required=True, where="product_data[name]"),
                                "metadata": metadata(data)})
        call.state.products[made["id"]] = made
        product_id = made["id"]
    lookup_key = text(p, "lookup_key", max_length=200)
    _claim_lookup_key(call.state, lookup_key, boolean(p, "transfer_lookup_key"))
    made = objects.price({
        "currency": currency(p, "currency"), "product": product_id, "lookup_key": lookup_key,
        "unit_amount": integer(p, "unit_amount", required=True, maximum=99_999_999),
        "active": boolean(p, "active") is not False, "metadata": metadata(p),
        "nickname": text(p, "nickname")})
    call.state.prices[made["id"]] = made
    call.state.emit("price.created", made)
    return _out(call, made)


def _claim_lookup_key(state: State, key: str | None, transfer: bool | None) -> None:
    if not key:
        return
    for other in state.prices.values():
        if other["lookup_key"] == key:
            if not transfer:
                raise invalid(f"A price (`{other['id']}`) already uses that lookup key.",
                              param="lookup_key")
            other["lookup_key"] = None


def update_price(call: Call) -> dict:
    price = _get(call.state, "prices", call.ids["id"], "price")
    p = call.params
    check_known(p, {"active", "metadata", "lookup_key", "transfer_lookup_key", "nickname", "expand"})
    if (active := boolean(p, "active")) is not None:
        price["active"] = active
    if (md := metadata(p)) is not None:
        price["metadata"] = {**price["metadata"], **md}
    if "lookup_key" in p:
        key = text(p, "lookup_key", max_length=200) or None
        _claim_lookup_key(call.state, key, boolean(p, "transfer_lookup_key"))
        price["lookup_key"] = key
    return _out(call, price)


def list_prices(call: Call) -> dict:
    p = call.params
    check_known(p, LIST_PARAMS | {"lookup_keys", "product", "active", "currency", "type"})
    keys = array(p, "lookup_keys", max_items=10)
    product = text(p, "product", max_length=255)
    active = boolean(p, "active")
    rows = [x for x in call.state.prices.values()
            if (keys is None or x["lookup_key"] in keys) and (product is None or x["product"] == product)
            and (active is None or x["active"] == active)]
    return _expand_list(call, paginate(rows, p, "/v1/prices"))


def _expand_list(call: Call, listed: dict, extra: dict | None = None) -> dict:
    return expand(call.state, listed, call.params, extra)


# ---- customers, coupons, shipping rates ------------------------------------------------

def create_customer(call: Call) -> dict:
    p = call.params
    check_known(p, {"email", "name", "metadata", "description", "phone", "expand"})
    made = objects.customer({"email": text(p, "email", max_length=512), "name": text(p, "name", max_length=256),
                             "metadata": metadata(p), "description": text(p, "description"),
                             "phone": text(p, "phone", max_length=20)})
    call.state.customers[made["id"]] = made
    call.state.emit("customer.created", made)
    return _out(call, made)


def update_customer(call: Call) -> dict:
    customer = _get(call.state, "customers", call.ids["id"], "customer")
    p = call.params
    check_known(p, {"email", "name", "metadata", "description", "phone", "expand"})
    for name in ("email", "name", "description", "phone"):
        if (value := text(p, name, max_length=512)) is not None:
            customer[name] = value
    if (md := metadata(p)) is not None:
        customer["metadata"] = {**customer["metadata"], **md}
    call.state.emit("customer.updated", customer)
    return _out(call, customer)


def list_customers(call: Call) -> dict:
    check_known(call.params, LIST_PARAMS | {"email"})
    email = text(call.params, "email", max_length=512)
    rows = [c for c in call.state.customers.values() if email is None or c["email"] == email]
    return paginate(rows, call.params, "/v1/customers")


def create_coupon(call: Call) -> dict:
    p = call.params
    check_known(p, {"id", "amount_off", "currency", "percent_off", "duration", "name", "metadata"})
    amount_off = integer(p, "amount_off", minimum=1)
    percent = text(p, "percent_off", max_length=6)
    if (amount_off is None) == (percent is None):
        raise invalid("Give exactly one of amount_off and percent_off.", param="amount_off")
    basis_points = None
    if percent is not None:
        try:
            basis_points = round(float(percent) * 100)
        except ValueError:
            raise invalid("Invalid decimal: percent_off", param="percent_off") from None
        if not 1 <= basis_points <= 10000:
            raise invalid("percent_off must be between 0 and 100.", param="percent_off")
    made = objects.coupon({"id": text(p, "id", max_length=100), "amount_off": amount_off,
                           "currency": currency(p, "currency", required=amount_off is not None),
                           "percent_off": basis_points / 100 if basis_points else None,
                           "duration": text(p, "duration", max_length=20), "name": text(p, "name"),
                           "metadata": metadata(p)})
    made["_percent_bp"] = basis_points
    call.state.coupons[made["id"]] = made
    return _out(call, made)


def make_shipping_rate(state: State, data: dict, where: str = "") -> dict:
    check_known(data, {"display_name", "type", "fixed_amount", "metadata", "tax_behavior", "delivery_estimate"})
    if (text(data, "type", where=f"{where}[type]") or "fixed_amount") != "fixed_amount":
        raise invalid("Only fixed_amount shipping rates are supported.", param=f"{where}[type]")
    fixed = mapping(data, "fixed_amount", where=f"{where}[fixed_amount]") or {}
    made = objects.shipping_rate({
        "display_name": text(data, "display_name", required=True, max_length=100, where=f"{where}[display_name]"),
        "amount": integer(fixed, "amount", required=True, maximum=99_999_999, where=f"{where}[fixed_amount][amount]"),
        "currency": currency(fixed, "currency", where=f"{where}[fixed_amount][currency]"),
        "metadata": metadata(data)})
    state.shipping_rates[made["id"]] = made
    return made


def create_shipping_rate(call: Call) -> dict:
    params = {k: v for k, v in call.params.items() if k != "expand"}
    return _out(call, make_shipping_rate(call.state, params))


# ---- checkout sessions ------------------------------------------------------------------

def _line_items_list(session: dict) -> dict:
    return {"object": "list", "data": [dict(i) for i in session["_line_items"]],
            "has_more": False, "url": f"/v1/checkout/sessions/{session['id']}/line_items"}


def _session_extra(state: State) -> dict:
    """line_items exists on a session only when expanded."""
    return {"line_items": lambda shown: _line_items_list(state.sessions[shown["id"]])}


def create_session(call: Call) -> dict:
    session = checkout.create_session(call.state, call.params, call.base_url)
    return _out(call, session, _session_extra(call.state))


def retrieve_session(call: Call) -> dict:
    check_known(call.params, {"expand"})
    session = checkout.open_session(call.state, call.ids["id"])
    return _out(call, session, _session_extra(call.state))


def list_sessions(call: Call) -> dict:
    p = call.params
    check_known(p, LIST_PARAMS | {"status", "customer", "payment_intent", "customer_details"})
    status, customer, pi = text(p, "status"), text(p, "customer"), text(p, "payment_intent")
    if status not in (None, "open", "complete", "expired"):
        raise invalid("status must be open, complete or expired.", param="status")
    for session in list(call.state.sessions.values()):
        checkout.open_session(call.state, session["id"])  # expire the overdue
    rows = [s for s in call.state.sessions.values()
            if (status is None or s["status"] == status) and (customer is None or s["customer"] == customer)
            and (pi is None or s["payment_intent"] == pi)]
    return _expand_list(call, paginate(rows, p, "/v1/checkout/sessions"), _session_extra(call.state))


def session_line_items(call: Call) -> dict:
    check_known(call.params, LIST_PARAMS - {"created"})
    session = checkout.open_session(call.state, call.ids["id"])
    listed = paginate(session["_line_items"], call.params, f"/v1/checkout/sessions/{session['id']}/line_items")
    listed["data"].reverse()  # line items keep their order, oldest first
    return _expand_list(call, listed)


def expire_session(call: Call) -> dict:
    check_known(call.params, {"expand"})
    session = checkout.open_session(call.state, call.ids["id"])
    if session["status"] != "open":
        raise invalid(f"Only Checkout Sessions with a status of `open` can be expired. This "
                      f"session has a status of `{session['status']}`.", param="id")
    checkout.expire(call.state, session)
    return _out(call, session, _session_extra(call.state))


# ---- payments -----------------------------------------------------------------------------

def list_charges(call: Call) -> dict:
    check_known(call.params, LIST_PARAMS | {"payment_intent", "customer"})
    pi = text(call.params, "payment_intent")
    rows = [c for c in call.state.charges.values() if pi is None or c["payment_intent"] == pi]
    return _expand_list(call, paginate(rows, call.params, "/v1/charges"))


def create_refund(call: Call) -> dict:
    p = call.params
    check_known(p, {"charge", "payment_intent", "amount", "reason", "metadata", "expand"})
    charge_id, pi_id = text(p, "charge"), text(p, "payment_intent")
    if (charge_id is None) == (pi_id is None):
        raise invalid("Give exactly one of charge and payment_intent.", param="charge")
    if pi_id:
        pi = _get(call.state, "payment_intents", pi_id, "payment_intent")
        if not pi["latest_charge"]:
            raise invalid("This PaymentIntent has no successful charge to refund.", param="payment_intent")
        charge_id = pi["latest_charge"]
    charge = _get(call.state, "charges", charge_id, "charge")
    refundable = charge["amount"] - charge["amount_refunded"]
    amount = integer(p, "amount", minimum=1)
    amount = refundable if amount is None else amount
    if refundable <= 0 or amount > refundable:
        raise invalid(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({refundable})",
                      param="amount", code="amount_too_large")
    reason = text(p, "reason")
    if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
        raise invalid("Invalid reason.", param="reason")
    made = objects.refund(charge, amount, reason, metadata(p) or {})
    call.state.refunds[made["id"]] = made
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["refunds"]["data"].insert(0, public(made))
    call.state.emit("refund.created", made)
    call.state.emit("charge.refunded", charge, previous)
    return _out(call, made)


def list_refunds(call: Call) -> dict:
    check_known(call.params, LIST_PARAMS | {"charge", "payment_intent"})
    charge = text(call.params, "charge")
    rows = [r for r in call.state.refunds.values() if charge is None or r["charge"] == charge]
    return _expand_list(call, paginate(rows, call.params, "/v1/refunds"))


def list_disputes(call: Call) -> dict:
    check_known(call.params, LIST_PARAMS | {"charge", "payment_intent"})
    charge, pi = text(call.params, "charge"), text(call.params, "payment_intent")
    rows = [d for d in call.state.disputes.values()
            if (charge is None or d["charge"] == charge) and (pi is None or d["payment_intent"] == pi)]
    return _expand_list(call, paginate(rows, call.params, "/v1/disputes"))


def close_dispute(call: Call) -> dict:
    check_known(call.params, {"expand"})
    dispute = _get(call.state, "disputes", call.ids["id"], "dispute")
    close(call.state, dispute, "lost")
    return _out(call, dispute)


def open_dispute(state: State, charge: dict, amount: int | None, reason: str) -> dict:
    made = objects.dispute(charge, amount or charge["amount"], reason)
    state.disputes[made["id"]] = made
    charge["disputed"] = True
    state.emit("charge.dispute.created", made)
    return made


def close(state: State, dispute: dict, outcome: str) -> None:
    if dispute["status"] in ("won", "lost"):
        raise invalid("This dispute is already closed.", param="id")
    dispute["status"] = outcome
    state.emit("charge.dispute.closed", dispute)


def list_events(call: Call) -> dict:
    p = call.params
    check_known(p, LIST_PARAMS | {"type", "types", "delivery_success"})
    type_, types = text(p, "type", max_length=100), array(p, "types", max_items=20)
    delivered = boolean(p, "delivery_success")
    rows = [e for e in call.state.events.values()
            if (type_ is None or _type_matches(e["type"], type_)) and (types is None or e["type"] in types)
            and (delivered is None or (e["id"] in call.state.delivered) == delivered)]
    return paginate(rows, p, "/v1/events")


def _type_matches(actual: str, wanted: str) -> bool:
    return actual == wanted or (wanted.endswith(".*") and actual.startswith(wanted[:-1]))


def retrieve(collection: str, name: str) -> Callable[[Call], dict]:
    def handler(call: Call) -> dict:
        check_known(call.params, {"expand"})
        return _out(call, _get(call.state, collection, call.ids["id"], name))
    return handler


def lister(collection: str, url: str) -> Callable[[Call], dict]:
    def handler(call: Call) -> dict:
        check_known(call.params, LIST_PARAMS)
        return _expand_list(call, paginate(call.state.collection(collection).values(), call.params, url))
    return handler


ROUTES: list[tuple[str, str, Callable[[Call], dict]]] = [
    ("POST", "/v1/products", create_product),
    ("GET", "/v1/products", list_products),
    ("GET", "/v1/products/{id}", retrieve("products", "product")),
    ("POST", "/v1/products/{id}", update_product),
    ("POST", "/v1/prices", create_price),
    ("GET", "/v1/prices", list_prices),
    ("GET", "/v1/prices/{id}", retrieve("prices", "price")),
    ("POST", "/v1/prices/{id}", update_price),
    ("POST", "/v1/customers", create_customer),
    ("GET", "/v1/customers", list_customers),
    ("GET", "/v1/customers/{id}", retrieve("customers", "customer")),
    ("POST", "/v1/customers/{id}", update_customer),
    ("POST", "/v1/coupons", create_coupon),
    ("GET", "/v1/coupons/{id}", retrieve("coupons", "coupon")),
    ("POST", "/v1/shipping_rates", create_shipping_rate),
    ("GET", "/v1/shipping_rates/{id}", retrieve("shipping_rates", "shipping_rate")),
    ("POST", "/v1/checkout/sessions", create_session),
    ("GET", "/v1/checkout/sessions", list_sessions),
    ("GET", "/v1/checkout/sessions/{id}", retrieve_session),
    ("GET", "/v1/checkout/sessions/{id}/line_items", session_line_items),
    ("POST", "/v1/checkout/sessions/{id}/expire", expire_session),
    ("GET", "/v1/payment_intents", lister("payment_intents", "/v1/payment_intents")),
    ("GET", "/v1/payment_intents/{id}", retrieve("payment_intents", "payment_intent")),
    ("GET", "/v1/charges", list_charges),
    ("GET", "/v1/charges/{id}", retrieve("charges", "charge")),
    ("POST", "/v1/refunds", create_refund),
    ("GET", "/v1/refunds", list_refunds),
    ("GET", "/v1/refunds/{id}", retrieve("refunds", "refund")),
    ("GET", "/v1/disputes", list_disputes),
    ("GET", "/v1/disputes/{id}", retrieve("disputes", "dispute")),
    ("POST", "/v1/disputes/{id}/close", close_dispute),
    ("GET", "/v1/events", list_events),
    ("GET", "/v1/events/{id}", retrieve("events", "event")),
]

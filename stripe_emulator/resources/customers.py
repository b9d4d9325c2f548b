"""Customers and coupons."""

from __future__ import annotations

import re
from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import invalid
from stripe_emulator.listing import LIST_PARAMS
from stripe_emulator.params import (
    check_known,
    currency,
    integer,
    merge_metadata,
    metadata,
    text,
)
from stripe_emulator.resources.call import Call, Handler, lister, retrieve

CUSTOMER_PARAMS = {"email", "name", "metadata", "description", "phone", "expand"}
COUPON_PARAMS = {"id", "amount_off", "currency", "percent_off", "duration", "name", "metadata",
                 "max_redemptions", "redeem_by", "expand"}
_PERCENT = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,2})?$")


def _customer_fields(p: dict[str, Any]) -> dict[str, str | None]:
    return {"email": text(p, "email", max_length=512), "name": text(p, "name", max_length=256),
            "description": text(p, "description", max_length=350), "phone": text(p, "phone", max_length=20)}


def create_customer(call: Call) -> dict[str, Any]:
    check_known(call.params, CUSTOMER_PARAMS)
    made = objects.customer({**_customer_fields(call.params), "metadata": metadata(call.params)})
    call.state.customers[made["id"]] = made
    call.state.emit("customer.created", made)
    return call.show(made)


def update_customer(call: Call) -> dict[str, Any]:
    customer = call.get("customers", "customer")
    check_known(call.params, CUSTOMER_PARAMS)
    previous: dict[str, Any] = {}
    for name, value in _customer_fields(call.params).items():
        if value is not None and value != customer[name]:
            previous[name], customer[name] = customer[name], value
    if (md := metadata(call.params)) is not None:
        previous["metadata"] = dict(customer["metadata"])
        customer["metadata"] = merge_metadata(customer["metadata"], md, call.params)
    if previous:
        call.state.emit("customer.updated", customer, previous)
    return call.show(customer)


def list_customers(call: Call) -> dict[str, Any]:
    check_known(call.params, LIST_PARAMS | {"email"})
    email = text(call.params, "email", max_length=512)
    rows = [c for c in call.state.customers.values() if email is None or c["email"] == email]
    return call.page(rows, "/v1/customers")


def create_coupon(call: Call) -> dict[str, Any]:
    p = call.params
    check_known(p, COUPON_PARAMS)
    coupon_id = text(p, "id", max_length=100)
    if coupon_id is not None and (not coupon_id or coupon_id in call.state.coupons):
        raise invalid("A coupon with this id already exists.", param="id", code="resource_already_exists")
    amount_off = integer(p, "amount_off", minimum=1, maximum=99_999_999)
    basis_points = _percent_basis_points(text(p, "percent_off", max_length=6))
    if (amount_off is None) == (basis_points is None):
        raise invalid("Give exactly one of amount_off and percent_off.", param="amount_off")
    duration = text(p, "duration", max_length=20) or "once"
    if duration not in ("once", "forever", "repeating"):
        raise invalid("duration must be once, forever or repeating.", param="duration")
    made = objects.coupon({"id": coupon_id, "amount_off": amount_off,
                           "currency": currency(p, "currency", required=amount_off is not None),
                           "percent_off": basis_points / 100 if basis_points else None,
                           "duration": duration, "name": text(p, "name", max_length=40),
                           "metadata": metadata(p)})
    made["_percent_bp"] = basis_points
    call.state.coupons[made["id"]] = made
    return call.show(made)


def _percent_basis_points(raw: str | None) -> int | None:
    """percent_off as integer hundredths of a percent (25.5 % -> 2550), without floats."""
    if raw is None:
        return None
    if not _PERCENT.match(raw):
        raise invalid("Invalid decimal: percent_off", param="percent_off")
    whole, _, fraction = raw.partition(".")
    basis_points = int(whole) * 100 + int((fraction + "00")[:2])
    if not 1 <= basis_points <= 10000:
        raise invalid("percent_off must be greater than 0 and at most 100.", param="percent_off")
    return basis_points


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/customers", create_customer),
    ("GET", "/v1/customers", list_customers),
    ("GET", "/v1/customers/{id}", retrieve("customers", "customer")),
    ("POST", "/v1/customers/{id}", update_customer),
    ("POST", "/v1/coupons", create_coupon),
    ("GET", "/v1/coupons", lister("coupons", "/v1/coupons")),
    ("GET", "/v1/coupons/{id}", retrieve("coupons", "coupon")),
]

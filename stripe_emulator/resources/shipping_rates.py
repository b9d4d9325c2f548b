"""Shipping rates (fixed amount only)."""

from __future__ import annotations

from typing import Any

from stripe_emulator.checkout.shipping import make_shipping_rate
from stripe_emulator.resources.call import Call, Handler, lister, retrieve


def create_shipping_rate(call: Call) -> dict[str, Any]:
    params = {k: v for k, v in call.params.items() if k != "expand"}
    return call.show(make_shipping_rate(call.state, params))


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/shipping_rates", create_shipping_rate),
    ("GET", "/v1/shipping_rates", lister("shipping_rates", "/v1/shipping_rates")),
    ("GET", "/v1/shipping_rates/{id}", retrieve("shipping_rates", "shipping_rate")),
]

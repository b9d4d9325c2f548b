"""The /v1 resources, one module per family; ROUTES lists (method, path, handler)."""

from __future__ import annotations

from stripe_emulator.expansion import Extras
from stripe_emulator.resources import (
    customers,
    disputes,
    events,
    payments,
    products,
    sessions,
    shipping_rates,
    webhook_endpoints,
)
from stripe_emulator.resources.call import Call, Handler

ROUTES: list[tuple[str, str, Handler]] = [
    *products.ROUTES, *customers.ROUTES, *shipping_rates.ROUTES, *sessions.ROUTES,
    *payments.ROUTES, *disputes.ROUTES, *events.ROUTES, *webhook_endpoints.ROUTES,
]
EXTRAS: dict[str, Extras] = {**sessions.EXTRAS}

__all__ = ["EXTRAS", "ROUTES", "Call", "Handler"]

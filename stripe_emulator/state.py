"""Everything the emulator knows, in memory, and the recording of events."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stripe_emulator import objects


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the API shows it: internal `_` fields dropped, a deep copy."""
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


@dataclass
class State:
    api_version: str
    # Called with each new event; returns how many webhook endpoints will receive it.
    on_event: Callable[[dict[str, Any]], int] = lambda event: 0
    products: dict[str, dict] = field(default_factory=dict)
    prices: dict[str, dict] = field(default_factory=dict)
    customers: dict[str, dict] = field(default_factory=dict)
    coupons: dict[str, dict] = field(default_factory=dict)
    shipping_rates: dict[str, dict] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    payment_intents: dict[str, dict] = field(default_factory=dict)
    charges: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    disputes: dict[str, dict] = field(default_factory=dict)
    events: dict[str, dict] = field(default_factory=dict)
    webhook_endpoints: dict[str, dict] = field(default_factory=dict)
    delivered: set[str] = field(default_factory=set)  # event ids delivered with a 2xx
    expiries: list[tuple[int, str]] = field(default_factory=list)  # heap of (expires_at, session id)
    request: tuple[str | None, str | None] = (None, None)  # (request id, idempotency key)

    def emit(self, type_: str, obj: dict[str, Any], previous: dict | None = None) -> dict[str, Any]:
        event = objects.event(type_, public(obj), self.api_version, previous, self.request)
        self.events[event["id"]] = event
        event["pending_webhooks"] = self.on_event(event)
        return event

    def collection(self, name: str) -> dict[str, dict]:
        return getattr(self, name)

    def find(self, object_id: str) -> dict[str, Any] | None:
        """Any object by id (for expansion)."""
        for prefix, name in PREFIXES.items():
            if object_id.startswith(prefix):
                return self.collection(name).get(object_id)
        return None


PREFIXES = {
    "prod_": "products", "price_": "prices", "cus_": "customers", "cs_": "sessions",
    "pi_": "payment_intents", "ch_": "charges", "re_": "refunds", "dp_": "disputes",
    "evt_": "events", "shr_": "shipping_rates", "we_": "webhook_endpoints",
}

"""An order's fulfilment as stored on it (`fulfillment`, a map): separate from its payment
status, which follows from its facts. What may change it, and how it moves (forward
only), is commerce's (`commerce/fulfillment.py`); this is the value and its reading.

Stored form (`fulfillment` on an order; absent on orders written before it, and on
orders not yet fulfilled, which read as UNFULFILLED):

    status          UNFULFILLED | SHIPPED | DELIVERED | CANCELLED
    shippedAt       epoch seconds, or null
    deliveredAt     epoch seconds, or null
    cancelledAt     epoch seconds, or null
    carrier, trackingNumber, trackingUrl    text, or null

Read without trust, like the rest of the records: a map that is not one, a status that
is not ours or a field of the wrong type raises Unreadable with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.records.facts import Unreadable, shown

UNFULFILLED, SHIPPED, DELIVERED, CANCELLED = "UNFULFILLED", "SHIPPED", "DELIVERED", "CANCELLED"
FULFILLMENT_STATUSES = (UNFULFILLED, SHIPPED, DELIVERED, CANCELLED)
MAX_TEXT = 2048  # longer than any input commerce accepts: what is stored by hand, bounded
_TIMES = (("shippedAt", "shipped_at"), ("deliveredAt", "delivered_at"), ("cancelledAt", "cancelled_at"))
_TEXTS = (("carrier", "carrier"), ("trackingNumber", "tracking_number"), ("trackingUrl", "tracking_url"))


@dataclass(frozen=True, slots=True)
class Fulfillment:
    status: str = UNFULFILLED
    shipped_at: int | None = None
    delivered_at: int | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    cancelled_at: int | None = None

    @property
    def default(self) -> bool:
        """Nothing done yet: the order is stored without the attribute."""
        return self == _NONE

    def to_item(self) -> dict[str, Any]:
        return {"status": self.status, "shippedAt": self.shipped_at, "deliveredAt": self.delivered_at,
                "cancelledAt": self.cancelled_at, "carrier": self.carrier,
                "trackingNumber": self.tracking_number, "trackingUrl": self.tracking_url}

    @classmethod
    def from_item(cls, raw: Any) -> Fulfillment:
        """The stored fulfilment, checked; absent (None) reads as UNFULFILLED."""
        if raw is None:
            return _NONE
        if not isinstance(raw, dict):
            raise Unreadable("fulfillment is not a map")
        status = raw.get("status", UNFULFILLED)
        if status not in FULFILLMENT_STATUSES:
            raise Unreadable(f"fulfillment.status is {shown(status)}")
        values: dict[str, Any] = {"status": status}
        for name, attr in _TIMES:
            value = raw.get(name)
            if value is not None and (type(value) is not int or not 0 < value < 10**11):
                raise Unreadable(f"fulfillment.{name} is {shown(value)}")
            values[attr] = value
        for name, attr in _TEXTS:
            value = raw.get(name)
            if value is not None and (type(value) is not str or len(value) > MAX_TEXT):
                raise Unreadable(f"fulfillment.{name} is {shown(value)}")
            values[attr] = value
        return cls(**values)


_NONE = Fulfillment()

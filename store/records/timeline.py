"""An order's timeline as stored on it (`events`, a map keyed by each event's identity):
what happened to the order and when, one entry per event however often the fact behind
it arrives. Which events a fact makes, and which ones a shopper sees, is commerce's
(`commerce/timeline.py`); this is the value and its reading.

Stored form (`events` on an order; absent on orders written before it):

    {key: {kind, at, seq, amount?, detail?}}
    key     the event's identity: placed, paid, refund:re_1, dispute:dp_1:lost, shipped, email:…
    kind    one of KINDS
    at      epoch seconds: when the fact landed (placed: when the checkout was made)
    seq     the order it was recorded in (events of the same second sort by it)
    amount  minor units (refunds, disputes), in the order's currency
    detail  short text (carrier and tracking number, a cancel reason, the email's kind)

Merged by union: an entry already stored keeps its time, so an event is recorded once.
Read without trust: `events` that is not a map raises Unreadable; an entry that cannot be
read (a kind of a later version, a time that is not one) is left out, never the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store.records.facts import Unreadable

KINDS = frozenset({"PLACED", "PAID", "PAYMENT_FAILED", "REFUNDED", "REFUND_FAILED", "DISPUTE_OPENED",
                   "DISPUTE_WON", "DISPUTE_LOST", "NEEDS_REVIEW", "SHIPPED", "DELIVERED", "CANCELLED",
                   "EMAIL_SENT"})
MAX_KEY, MAX_DETAIL = 200, 600


@dataclass(frozen=True, slots=True)
class OrderEvent:
    kind: str
    at: int
    amount: int | None = None
    detail: str | None = None
    seq: int = 0

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"kind": self.kind, "at": self.at, "seq": self.seq}
        if self.amount is not None:
            item["amount"] = self.amount
        if self.detail is not None:
            item["detail"] = self.detail
        return item

    @classmethod
    def from_item(cls, raw: Any) -> OrderEvent | None:
        """The entry, or None when it cannot be read."""
        if not isinstance(raw, dict):
            return None
        kind, at, amount, detail = raw.get("kind"), raw.get("at"), raw.get("amount"), raw.get("detail")
        seq = raw.get("seq", 0)
        if kind not in KINDS or type(at) is not int or not 0 < at < 10**11 or type(seq) is not int:
            return None
        if amount is not None and (type(amount) is not int or not 0 <= amount <= 10**12):
            return None
        if detail is not None and (type(detail) is not str or len(detail) > MAX_DETAIL):
            return None
        return cls(kind, at, amount, detail, seq)


def events_to_item(events: Mapping[str, OrderEvent]) -> dict[str, Any]:
    return {key: event.to_item() for key, event in sorted(events.items())}


def events_from_item(raw: Any) -> Mapping[str, OrderEvent]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Unreadable("events is not a map")
    read = {}
    for key, entry in raw.items():
        event = OrderEvent.from_item(entry)
        if event is not None and type(key) is str and 0 < len(key) <= MAX_KEY:
            read[key] = event
    return read

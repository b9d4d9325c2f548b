"""What Stripe has told us about an order's money, as stored on the order (`facts`).

The value type lives with the records because the table holds it: `Facts` is data that
only grows, and `merge` is its join (per refund and per dispute, the later of two
statuses). What the facts *mean* for an order (its status) is commerce's:
`commerce/facts.py` holds that table, and turns Stripe's JSON into facts.

Stored form (`facts` on an order):

    paid, paymentFailed        bool
    refunded                   int: the refunds that count (orders of earlier versions: the total)
    dispute                    none | open | won | lost: the summary
    refunds, disputes          {id: {amount, status}} with Stripe's status (absent when empty)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Later statuses rank higher; a refund can fail even after it succeeded.
REFUND_RANK = {"pending": 0, "requires_action": 0, "succeeded": 1, "canceled": 2, "failed": 2}
COUNTED_REFUNDS = frozenset({"pending", "requires_action", "succeeded"})
DISPUTE_RANK = {"warning_needs_response": 0, "warning_under_review": 1, "needs_response": 2,
                "under_review": 3, "warning_closed": 4, "prevented": 5, "won": 6, "lost": 7}
DISPUTE_STATE = {"warning_needs_response": "inquiry", "warning_under_review": "inquiry",
                 "needs_response": "open", "under_review": "open",
                 "won": "won", "warning_closed": "won", "prevented": "won", "lost": "lost"}
# Summaries of orders written before disputes were kept by id.
LEGACY_DISPUTE_RANK = {"none": 0, "open": 1, "won": 2, "lost": 2}


class Unreadable(ValueError):
    """A stored item that cannot be read as the record it should be (the reason says why)."""


@dataclass(frozen=True, slots=True)
class Movement:
    """A refund or a dispute: its amount (minor units) and its Stripe status."""
    amount: int
    status: str


@dataclass(frozen=True, slots=True)
class Facts:
    paid: bool = False
    payment_failed: bool = False
    refunds: Mapping[str, Movement] = field(default_factory=dict)
    disputes: Mapping[str, Movement] = field(default_factory=dict)
    legacy_refunded: int = 0
    legacy_dispute: str = "none"

    def merge(self, other: Facts) -> Facts:
        legacy_dispute = max(self.legacy_dispute, other.legacy_dispute, key=LEGACY_DISPUTE_RANK.__getitem__)
        return Facts(self.paid or other.paid, self.payment_failed or other.payment_failed,
                     _later(self.refunds, other.refunds, REFUND_RANK),
                     _later(self.disputes, other.disputes, DISPUTE_RANK),
                     max(self.legacy_refunded, other.legacy_refunded), legacy_dispute)

    @property
    def refunded(self) -> int:
        if not self.refunds:
            return self.legacy_refunded
        return sum(r.amount for r in self.refunds.values() if r.status in COUNTED_REFUNDS)

    @property
    def charged_back(self) -> int:
        return sum(d.amount for d in self.disputes.values() if d.status == "lost")

    @property
    def dispute(self) -> str:
        """none, open (an inquiry included), won or lost: the summary of every dispute."""
        if not self.disputes:
            return self.legacy_dispute
        states = {DISPUTE_STATE[d.status] for d in self.disputes.values()}
        for state in ("open", "inquiry", "lost", "won"):
            if state in states:
                return "open" if state == "inquiry" else state
        return "none"

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"paid": self.paid, "paymentFailed": self.payment_failed,
                                "refunded": self.refunded, "dispute": self.dispute}
        if self.refunds:
            item["refunds"] = {k: {"amount": m.amount, "status": m.status} for k, m in sorted(self.refunds.items())}
        if self.disputes:
            item["disputes"] = {k: {"amount": m.amount, "status": m.status} for k, m in sorted(self.disputes.items())}
        return item

    @classmethod
    def from_item(cls, raw: Any) -> Facts:
        """The stored facts, checked (Unreadable says what is wrong). A dispute summary
        holding a Stripe status (`needs_response`, set by hand) reads as what it means;
        refunds and disputes with statuses we do not know are left out."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise Unreadable("facts is not a map")
        paid, failed = raw.get("paid", False), raw.get("paymentFailed", False)
        for name, value in (("paid", paid), ("paymentFailed", failed)):
            if not isinstance(value, bool):
                raise Unreadable(f"facts.{name} is {shown(value)}")
        refunded = raw.get("refunded", 0)
        if isinstance(refunded, bool) or not isinstance(refunded, int):
            raise Unreadable(f"facts.refunded is {shown(refunded)}")
        refunds = _movements(raw, "refunds", REFUND_RANK)
        disputes = _movements(raw, "disputes", DISPUTE_RANK)
        return cls(paid, failed, refunds, disputes, 0 if refunds else refunded,
                   "none" if disputes else _dispute_summary(raw.get("dispute", "none")))


def _dispute_summary(value: Any) -> str:
    if value in LEGACY_DISPUTE_RANK:
        return value
    state = DISPUTE_STATE.get(value) if isinstance(value, str) else None
    if state is None:
        raise Unreadable(f"facts.dispute is {shown(value)}")
    return "open" if state == "inquiry" else state


def _movements(raw: Mapping[str, Any], name: str, rank: Mapping[str, int]) -> dict[str, Movement]:
    movements = raw.get(name)
    if movements is None:
        return {}
    if not (isinstance(movements, dict) and all(
            isinstance(m, dict) and isinstance(m.get("amount"), int) and isinstance(m.get("status"), str)
            for m in movements.values())):
        raise Unreadable(f"facts.{name} is not a map of amounts and statuses")
    return {key: Movement(int(m["amount"]), m["status"]) for key, m in movements.items() if m["status"] in rank}


def _later(mine: Mapping[str, Movement], theirs: Mapping[str, Movement],
           rank: Mapping[str, int]) -> Mapping[str, Movement]:
    if not theirs:
        return mine
    def later(m: Movement) -> tuple[int, str, int]:  # a total order: merging is commutative
        return rank[m.status], m.status, m.amount

    merged = dict(mine)
    for key, movement in theirs.items():
        current = merged.get(key)
        if current is None or later(movement) > later(current):
            merged[key] = movement
    return merged


def shown(value: Any) -> str:
    """A stored value as a reason shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"

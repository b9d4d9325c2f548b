"""What Stripe has told us about an order's money, as facts that only ever grow, and the
status that follows from them.

    fact              grows by                                   from
    paid              false -> true                              session payment_status, async_payment_succeeded
    payment_failed    false -> true                              async_payment_failed
    refunds           by refund id: pending -> succeeded         the charge's refunds (refund.*, charge.refunded)
                      -> failed | canceled
    disputes          by dispute id, along Stripe's statuses     the dispute (charge.dispute.*)
                      (inquiry -> chargeback -> closed)

Refunds are kept by id, so a refund that fails after it succeeded stops counting:
`refunded` is the sum of the refunds that are pending, need action or succeeded. A dispute
is kept by id with its Stripe status, mapped here, and only here, to what it means:

    Stripe status                                  state     the money
    warning_needs_response, warning_under_review   inquiry   still the shop's (an inquiry)
    needs_response, under_review                   open      held by the bank
    won, warning_closed, prevented                 won       the shop's
    lost                                           lost      taken back: counted in `charged_back`

    status = PROCESSING          not paid, not failed
             PAYMENT_FAILED      not paid, failed
             DISPUTED            paid, a dispute or an inquiry open
             REFUNDED            paid, refunded + charged back >= total
             PARTIALLY_REFUNDED  paid, 0 < refunded + charged back < total
             PAID                paid otherwise (a won dispute included)
             NEEDS_REVIEW        whatever the facts, when the session did not match its quote

Merging takes, per refund and per dispute, the later of the two statuses, so events may
arrive late, twice or out of order. Orders written before refunds and disputes were kept
by id carry only totals (`refunded`, `dispute`): those count until the first id is known,
from the same charge, which lists every refund and dispute it has. What Stripe's charges,
refunds and disputes say as facts is read in `commerce/charges.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

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


def status_of(facts: Facts, total: int, *, review: bool = False) -> str:
    if review:
        return "NEEDS_REVIEW"
    if not facts.paid:
        return "PAYMENT_FAILED" if facts.payment_failed else "PROCESSING"
    if facts.dispute == "open":
        return "DISPUTED"
    returned = facts.refunded + facts.charged_back
    if (facts.dispute == "lost" and not facts.disputes) or (total > 0 and returned >= total):
        return "REFUNDED"
    return "PARTIALLY_REFUNDED" if returned > 0 else "PAID"


# ---- the stored form --------------------------------------------------------------

def facts_of(order: Mapping[str, Any]) -> Facts:
    f = order.get("facts") or {}
    refunds = _movements(f.get("refunds"), REFUND_RANK)
    disputes = _movements(f.get("disputes"), DISPUTE_RANK)
    legacy_dispute = f.get("dispute", "none")
    if legacy_dispute not in LEGACY_DISPUTE_RANK:  # a Stripe status, written by hand or elsewhere
        state = DISPUTE_STATE.get(legacy_dispute, "none")
        legacy_dispute = "open" if state == "inquiry" else state
    return Facts(f.get("paid", False), f.get("paymentFailed", False), refunds, disputes,
                 0 if refunds else int(f.get("refunded", 0)), legacy_dispute if not disputes else "none")


def _movements(raw: Any, rank: Mapping[str, int]) -> dict[str, Movement]:
    if not isinstance(raw, Mapping):
        return {}
    return {key: Movement(int(value["amount"]), value["status"]) for key, value in raw.items()
            if isinstance(value, Mapping) and value.get("status") in rank}


def facts_item(facts: Facts) -> dict[str, Any]:
    item: dict[str, Any] = {"paid": facts.paid, "paymentFailed": facts.payment_failed,
                            "refunded": facts.refunded, "dispute": facts.dispute}
    if facts.refunds:
        item["refunds"] = {k: {"amount": m.amount, "status": m.status} for k, m in sorted(facts.refunds.items())}
    if facts.disputes:
        item["disputes"] = {k: {"amount": m.amount, "status": m.status} for k, m in sorted(facts.disputes.items())}
    return item

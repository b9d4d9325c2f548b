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
             OUT_OF_STOCK        paid otherwise, but its pieces could not be had (commerce/stock.py)
             PAID                paid otherwise (a won dispute included)
             NEEDS_REVIEW        whatever the facts, when the session did not match its quote

Merging takes, per refund and per dispute, the later of the two statuses, so events may
arrive late, twice or out of order. Orders written before refunds and disputes were kept
by id carry only totals (`refunded`, `dispute`): those count until the first id is known,
from the same charge, which lists every refund and dispute it has. What Stripe's charges,
refunds and disputes say as facts is read in `commerce/charges.py`.
"""

from __future__ import annotations

# The value type and Stripe's status tables are stored on the order, so they live with the
# records (store/records/facts.py); what follows from them is here.
from store.records.facts import (
    COUNTED_REFUNDS,
    DISPUTE_RANK,
    DISPUTE_STATE,
    LEGACY_DISPUTE_RANK,
    REFUND_RANK,
    Facts,
    Movement,
)

__all__ = ["COUNTED_REFUNDS", "DISPUTE_RANK", "DISPUTE_STATE", "LEGACY_DISPUTE_RANK", "REFUND_RANK", "Facts",
           "Movement", "status_of"]


def status_of(facts: Facts, total: int, *, review: bool = False, short: bool = False) -> str:
    if review:
        return "NEEDS_REVIEW"
    if not facts.paid:
        return "PAYMENT_FAILED" if facts.payment_failed else "PROCESSING"
    if facts.dispute == "open":
        return "DISPUTED"
    returned = facts.refunded + facts.charged_back
    if (facts.dispute == "lost" and not facts.disputes) or (total > 0 and returned >= total):
        return "REFUNDED"
    if short:
        return "OUT_OF_STOCK"
    return "PARTIALLY_REFUNDED" if returned > 0 else "PAID"

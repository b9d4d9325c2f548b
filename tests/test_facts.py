"""Facts about an order's money merge to the same answer whatever the order, count or
repetition of what Stripe says; failed refunds stop counting; every dispute status that
Stripe documents means something; orders stored before refunds and disputes had ids read
as they did."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from commerce import charges
from commerce.facts import DISPUTE_RANK, DISPUTE_STATE, REFUND_RANK, Facts, Movement, status_of
from payments import Charge, Dispute

# Stripe's documented statuses (API reference: Refund.status, Dispute.status).
STRIPE_REFUND_STATUSES = {"pending", "requires_action", "succeeded", "failed", "canceled"}
STRIPE_DISPUTE_STATUSES = {"warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
                           "under_review", "won", "lost", "prevented"}


def test_every_status_stripe_documents_is_known():
    assert set(REFUND_RANK) == STRIPE_REFUND_STATUSES
    assert set(DISPUTE_RANK) == set(DISPUTE_STATE) == STRIPE_DISPUTE_STATUSES


observation = st.one_of(
    st.builds(lambda i, s, a: Facts(paid=True, refunds={f"re_{i}": Movement(a, s)}),
              st.integers(0, 2), st.sampled_from(sorted(REFUND_RANK)), st.integers(1, 3000)),
    st.builds(lambda i, s, a: Facts(paid=True, disputes={f"dp_{i}": Movement(a, s)}),
              st.integers(0, 1), st.sampled_from(sorted(DISPUTE_RANK)), st.integers(1, 3000)),
    st.builds(Facts, paid=st.booleans(), payment_failed=st.booleans()),
)


@settings(max_examples=200, derandomize=True)
@given(st.lists(observation, min_size=1, max_size=8), st.integers(0, 2**32))
def test_merging_is_independent_of_order_and_repetition(seen, seed):
    def merged(sequence):
        result = Facts()
        for facts in sequence:
            result = result.merge(facts)
        return result

    shuffled = list(seen) + random.Random(seed).sample(seen, k=min(len(seen), 3))
    random.Random(seed).shuffle(shuffled)
    assert merged(seen) == merged(shuffled)
    stored = Facts.from_item(merged(seen).to_item())
    assert stored == merged(seen) and status_of(stored, 3000) == status_of(merged(seen), 3000)


def test_a_refund_that_failed_after_it_succeeded_does_not_count():
    succeeded = Facts(paid=True, refunds={"re_1": Movement(1000, "succeeded")})
    failed = Facts(paid=True, refunds={"re_1": Movement(1000, "failed")})
    assert succeeded.merge(failed).refunded == failed.merge(succeeded).refunded == 0
    assert status_of(succeeded.merge(failed), 4000) == "PAID"


def facts_from_charge(charge: dict, *, disputes: list[dict] = ()) -> Facts:  # type: ignore[assignment]
    """The facts of a charge and its disputes as Stripe sends them (JSON)."""
    return charges.facts_from_charge(Charge.from_json(charge), disputes=[Dispute.from_json(d) for d in disputes])


def test_a_lost_dispute_is_charged_back_not_refunded():
    lost = Facts(paid=True, disputes={"dp_1": Movement(4000, "lost")})
    assert (lost.refunded, lost.charged_back, status_of(lost, 4000)) == (0, 4000, "REFUNDED")
    partial = Facts(paid=True, disputes={"dp_1": Movement(1000, "lost")})
    assert status_of(partial, 4000) == "PARTIALLY_REFUNDED"


def test_orders_stored_with_totals_only_read_as_before_until_ids_arrive():
    legacy = Facts.from_item({"paid": True, "paymentFailed": False, "refunded": 1500, "dispute": "lost"})
    assert legacy.refunded == 1500 and status_of(legacy, 4000) == "REFUNDED"
    # the same charge, now read with its refunds and disputes by id, is the whole truth
    charge = {"paid": True, "amount_refunded": 1500, "refunds": {"object": "list", "has_more": False, "data": [
        {"id": "re_1", "amount": 1500, "status": "succeeded"}]}}
    now = legacy.merge(facts_from_charge(charge, disputes=[{"id": "dp_1", "amount": 2500, "status": "won"}]))
    assert now.refunded == 1500 and now.dispute == "won" and status_of(now, 4000) == "PARTIALLY_REFUNDED"


def test_a_charge_without_its_refunds_listed_counts_amount_refunded():
    facts = facts_from_charge({"paid": True, "amount_refunded": 700, "refunds": None})
    assert facts.refunded == 700
    more = facts_from_charge({"paid": True, "amount_refunded": 700,
                              "refunds": {"object": "list", "has_more": True, "data": []}})
    assert more.refunded == 700  # a partial list is no list


def test_garbage_from_stripe_is_not_a_fact():
    charge = {"paid": True, "refunds": {"object": "list", "has_more": False, "data": [
        {"id": "re_1", "amount": 1.5, "status": "succeeded"}, {"id": None, "amount": 100, "status": "succeeded"},
        {"id": "re_3", "amount": 100, "status": "exploded"}, {"id": "re_4", "amount": True, "status": "pending"}]}}
    assert facts_from_charge(charge).refunds == {}
    assert facts_from_charge({"paid": True}, disputes=[{"id": "dp_1", "amount": -5, "status": "lost"}]).disputes == {}

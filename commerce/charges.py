"""The facts of a charge, and the one way they reach an order.

What a charge, its refunds and its disputes (views of Stripe's JSON, from the port) say
about an order's money (`commerce/facts.py` holds what the facts mean), and how they
reach the order: by the charge's payment intent, creating the order from its session
when a refund or a dispute arrives before the order does. The webhook handlers and the
reconciliation job call these functions; neither holds a rule of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commerce.checkout import payment_failed
from commerce.facts import DISPUTE_RANK, REFUND_RANK, Facts, Movement
from commerce.orders import apply_facts, find_order, is_ours, order_from_session
from payments import Charge, CheckoutSession, Dispute, Payments, Refund
from store import Store, keys


def refund_movement(refund: Refund) -> tuple[str, Movement] | None:
    """A refund as a fact: None for one Stripe sent without an id, a known status or an amount."""
    if refund.id is None or refund.status not in REFUND_RANK or not _amount(refund.amount):
        return None
    return refund.id, Movement(refund.amount, refund.status)  # type: ignore[arg-type]


def dispute_movement(dispute: Dispute) -> tuple[str, Movement] | None:
    if dispute.id is None or dispute.status not in DISPUTE_RANK or not _amount(dispute.amount):
        return None
    return dispute.id, Movement(dispute.amount, dispute.status)  # type: ignore[arg-type]


def facts_from_charge(charge: Charge, *, refunds: Sequence[Refund] | None = None,
                      disputes: Sequence[Dispute] = ()) -> Facts:
    """The facts a charge (its refunds expanded, or listed in `refunds`) and its disputes
    tell. Without a full list of refunds, the charge's amount_refunded is the total."""
    if refunds is None:
        refunds = charge.refunds
    refund_facts = dict(filter(None, map(refund_movement, refunds or ())))
    dispute_facts = dict(filter(None, map(dispute_movement, disputes)))
    legacy = charge.amount_refunded if refunds is None and _amount(charge.amount_refunded) else 0
    return Facts(paid=charge.paid or bool(dispute_facts), refunds=refund_facts,
                 disputes=dispute_facts, legacy_refunded=legacy or 0)


def _amount(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


async def charge_facts(payments: Payments, charge: Charge, *,
                       disputes: Sequence[Dispute] | None = None) -> Facts:
    """Every fact of the charge: its refunds (listed in full when more than the expanded
    page) and its disputes: those given, or, when none are given and the charge is
    disputed, those Stripe lists. (Facts only grow, so a caller that passes `()` leaves
    the disputes already stored as they are.)"""
    refunds = charge.refunds
    if refunds is None and charge.id is not None:
        refunds = await payments.list_refunds(charge.id)
    if disputes is None:
        disputes = await payments.list_disputes(charge.id) if charge.disputed and charge.id else ()
    return facts_from_charge(charge, refunds=refunds, disputes=disputes)


async def session_facts(payments: Payments, session: CheckoutSession) -> Facts:
    """Every fact the session and its payment say: paid, a delayed payment that failed, and,
    when its payment intent's latest charge came expanded, refunds and disputes."""
    facts = Facts(paid=session.payment_status == "paid", payment_failed=payment_failed(session))
    charge = session.intent.latest_charge if session.intent is not None else None
    if charge is None:
        return facts
    return facts.merge(await charge_facts(payments, charge))


async def charge_changed(store: Store, payments: Payments, charge_id: str) -> dict[str, Any] | None:
    """A charge's refunds changed (charge.refunded, refund.*): the order with them, or None
    when the charge is not for a session this gateway made. A refund event says nothing
    of disputes, so none are asked for."""
    charge = await payments.retrieve_charge(charge_id)
    return await apply_to_payment(store, payments, charge.payment_intent,
                                  await charge_facts(payments, charge, disputes=()))


async def dispute_changed(store: Store, payments: Payments, dispute_id: str) -> dict[str, Any] | None:
    """A dispute was opened, changed or closed (charge.dispute.*), read afresh from Stripe."""
    dispute = await payments.retrieve_dispute(dispute_id)
    if dispute.charge is None:
        return None
    charge = await payments.retrieve_charge(dispute.charge)
    return await apply_to_payment(store, payments, charge.payment_intent,
                                  await charge_facts(payments, charge, disputes=(dispute,)))


async def apply_to_payment(store: Store, payments: Payments, payment_intent: str | None,
                           facts: Facts) -> dict[str, Any] | None:
    """Merge the facts into the order paid by this payment intent; an order not recorded
    yet (the refund beat the completed event) is made from its session first."""
    if payment_intent is None:
        return None
    pointer = await store.get(keys.payment_pointer(payment_intent))
    order = await find_order(store, pointer["orderId"]) if pointer else None
    if order is not None:
        return await apply_facts(store, order, facts)
    session = await payments.session_of_payment_intent(payment_intent)
    if session is None or not is_ours(session):
        return None
    return await order_from_session(store, payments, session.id, facts=facts)

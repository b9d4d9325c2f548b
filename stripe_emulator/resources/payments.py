"""Payment intents, charges and refunds. A refund updates its charge: amount_refunded,
refunded once the whole amount is back, and the charge's refunds list."""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import invalid
from stripe_emulator.ids import new_id
from stripe_emulator.listing import LIST_PARAMS
from stripe_emulator.params import check_known, integer, merge_metadata, metadata, text
from stripe_emulator.resources.call import Call, Handler, retrieve
from stripe_emulator.state import State, public

REFUND_REASONS = (None, "duplicate", "fraudulent", "requested_by_customer")


def list_payment_intents(call: Call) -> dict[str, Any]:
    check_known(call.params, LIST_PARAMS | {"customer"})
    customer = text(call.params, "customer", max_length=255)
    rows = [pi for pi in call.state.payment_intents.values() if customer is None or pi["customer"] == customer]
    return call.page(rows, "/v1/payment_intents")


def list_charges(call: Call) -> dict[str, Any]:
    check_known(call.params, LIST_PARAMS | {"payment_intent", "customer"})
    pi, customer = text(call.params, "payment_intent", max_length=255), text(call.params, "customer", max_length=255)
    rows = [c for c in call.state.charges.values()
            if (pi is None or c["payment_intent"] == pi) and (customer is None or c["customer"] == customer)]
    return call.page(rows, "/v1/charges")


def create_refund(call: Call) -> dict[str, Any]:
    p = call.params
    check_known(p, {"charge", "payment_intent", "amount", "reason", "metadata", "expand", "instructions_email"})
    charge = _refunded_charge(call)
    refundable = charge["amount"] - charge["amount_refunded"]
    amount = integer(p, "amount", minimum=1)
    amount = refundable if amount is None else amount
    if amount > refundable:
        raise invalid(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({refundable})",
                      param="amount", code="amount_too_large")
    reason = text(p, "reason", max_length=30)
    if reason not in REFUND_REASONS:
        raise invalid("reason must be duplicate, fraudulent or requested_by_customer.", param="reason")
    made = objects.refund(charge, amount, reason, metadata(p) or {})
    call.state.refunds[made["id"]] = made
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["refunds"]["data"].insert(0, public(made))
    charge["refunds"]["total_count"] = len(charge["refunds"]["data"])
    call.state.emit("refund.created", made)
    call.state.emit("charge.refunded", charge, previous)
    return call.show(made)


def _refunded_charge(call: Call) -> dict[str, Any]:
    charge_id = text(call.params, "charge", max_length=255)
    pi_id = text(call.params, "payment_intent", max_length=255)
    if (charge_id is None) == (pi_id is None):
        raise invalid("Give exactly one of charge and payment_intent.", param="charge")
    if pi_id:
        pi = call.get("payment_intents", "payment_intent", pi_id)
        if not pi["latest_charge"]:
            raise invalid("This PaymentIntent has no successful charge to refund.", param="payment_intent")
        charge_id = pi["latest_charge"]
    return call.get("charges", "charge", charge_id)


REFUND_FAILURES = ("charge_for_pending_refund_disputed", "declined", "expired_or_canceled_card",
                   "insufficient_funds", "lost_or_stolen_card", "merchant_request", "unknown")


def fail_refund(state: State, refund: dict[str, Any], reason: str) -> None:
    """A refund that fails, even after it succeeded (Stripe: refund.failed): its amount is
    no longer refunded on the charge."""
    if refund["status"] not in ("pending", "succeeded", "requires_action"):
        raise invalid(f"This refund is {refund['status']}.", param="id")
    if reason not in REFUND_FAILURES:
        raise invalid(f"failure_reason must be one of {', '.join(REFUND_FAILURES)}.", param="failure_reason")
    charge = state.charges[refund["charge"]]
    previous = {"status": refund["status"]}
    refund.update(status="failed", failure_reason=reason, failure_balance_transaction=new_id("txn_"))
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["refunds"]["data"] = [public(refund) if r["id"] == refund["id"] else r for r in charge["refunds"]["data"]]
    state.emit("refund.failed", refund, previous)
    state.emit("charge.refund.updated", refund, previous)
    state.emit("refund.updated", refund, previous)


def update_refund(call: Call) -> dict[str, Any]:
    refund = call.get("refunds", "refund")
    check_known(call.params, {"metadata", "expand"})
    if (md := metadata(call.params)) is not None:
        previous = {"metadata": dict(refund["metadata"])}
        refund["metadata"] = merge_metadata(refund["metadata"], md, call.params)
        call.state.emit("refund.updated", refund, previous)
    return call.show(refund)


def list_refunds(call: Call) -> dict[str, Any]:
    check_known(call.params, LIST_PARAMS | {"charge", "payment_intent"})
    charge, pi = text(call.params, "charge", max_length=255), text(call.params, "payment_intent", max_length=255)
    rows = [r for r in call.state.refunds.values()
            if (charge is None or r["charge"] == charge) and (pi is None or r["payment_intent"] == pi)]
    return call.page(rows, "/v1/refunds")


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/v1/payment_intents", list_payment_intents),
    ("GET", "/v1/payment_intents/{id}", retrieve("payment_intents", "payment_intent")),
    ("GET", "/v1/charges", list_charges),
    ("GET", "/v1/charges/{id}", retrieve("charges", "charge")),
    ("POST", "/v1/refunds", create_refund),
    ("GET", "/v1/refunds", list_refunds),
    ("GET", "/v1/refunds/{id}", retrieve("refunds", "refund")),
    ("POST", "/v1/refunds/{id}", update_refund),
]

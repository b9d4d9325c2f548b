"""Disputes: opened by a test helper (a chargeback, or an inquiry with
status=warning_needs_response), moved through Stripe's statuses by the helper, closed by
the API (lost) or the helper (won, lost, warning_closed, prevented)."""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import invalid
from stripe_emulator.listing import LIST_PARAMS
from stripe_emulator.params import check_known, text
from stripe_emulator.resources.call import Call, Handler, retrieve
from stripe_emulator.state import State

REASONS = ("bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
           "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
           "insufficient_funds", "noncompliant", "product_not_received", "product_unacceptable",
           "subscription_canceled", "unrecognized")


# Stripe's dispute statuses, and the ones that end a dispute.
STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
            "under_review", "won", "lost", "prevented")
CLOSED = frozenset({"won", "lost", "warning_closed", "prevented"})
OPENING = ("needs_response", "warning_needs_response")


def open_dispute(state: State, charge: dict[str, Any], amount: int | None, reason: str,
                 status: str = "needs_response") -> dict[str, Any]:
    if reason not in REASONS:
        raise invalid(f"reason must be one of {', '.join(REASONS)}.", param="reason")
    if status not in OPENING:
        raise invalid("status must be needs_response or warning_needs_response (an inquiry).", param="status")
    if any(d["charge"] == charge["id"] and d["status"] not in CLOSED for d in state.disputes.values()):
        raise invalid("This charge has an open dispute.", param="id", code="charge_disputed")
    made = objects.dispute(charge, amount or charge["amount"], reason)
    made["status"] = status
    if status.startswith("warning_"):
        made["payment_method_details"]["card"]["case_type"] = "inquiry"
    state.disputes[made["id"]] = made
    charge["disputed"] = True
    state.emit("charge.dispute.created", made)
    return made


def close_dispute(state: State, dispute: dict[str, Any], outcome: str) -> None:
    move_dispute(state, dispute, outcome)


def move_dispute(state: State, dispute: dict[str, Any], status: str) -> None:
    """To any of Stripe's statuses: charge.dispute.closed when it ends the dispute, else
    charge.dispute.updated."""
    if status not in STATUSES:
        raise invalid(f"status must be one of {', '.join(STATUSES)}.", param="status")
    if dispute["status"] in CLOSED:
        raise invalid("This dispute is already closed.", param="id")
    previous = {"status": dispute["status"]}
    dispute["status"] = status
    if status in CLOSED:
        dispute["evidence_details"]["past_due"] = False
    state.emit("charge.dispute.closed" if status in CLOSED else "charge.dispute.updated", dispute, previous)


def list_disputes(call: Call) -> dict[str, Any]:
    check_known(call.params, LIST_PARAMS | {"charge", "payment_intent"})
    charge, pi = text(call.params, "charge", max_length=255), text(call.params, "payment_intent", max_length=255)
    rows = [d for d in call.state.disputes.values()
            if (charge is None or d["charge"] == charge) and (pi is None or d["payment_intent"] == pi)]
    return call.page(rows, "/v1/disputes")


def accept_dispute(call: Call) -> dict[str, Any]:
    check_known(call.params, {"expand"})
    dispute = call.get("disputes", "dispute")
    close_dispute(call.state, dispute, "lost")
    return call.show(dispute)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/v1/disputes", list_disputes),
    ("GET", "/v1/disputes/{id}", retrieve("disputes", "dispute")),
    ("POST", "/v1/disputes/{id}/close", accept_dispute),
]

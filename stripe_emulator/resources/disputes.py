"""Disputes: opened by a test helper, closed by the API (lost) or the helper (won or lost)."""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import invalid
from stripe_emulator.listing import LIST_PARAMS
from stripe_emulator.params import check_known, text
from stripe_emulator.resources.call import Call, Handler, retrieve
from stripe_emulator.state import State

REASONS = ("bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
           "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details", "insufficient_funds",
           "noncompliant", "product_not_received", "product_unacceptable", "subscription_canceled", "unrecognized")


def open_dispute(state: State, charge: dict[str, Any], amount: int | None, reason: str) -> dict[str, Any]:
    if reason not in REASONS:
        raise invalid(f"reason must be one of {', '.join(REASONS)}.", param="reason")
    if any(d["charge"] == charge["id"] and d["status"] not in ("won", "lost") for d in state.disputes.values()):
        raise invalid("This charge has an open dispute.", param="id", code="charge_disputed")
    made = objects.dispute(charge, amount or charge["amount"], reason)
    state.disputes[made["id"]] = made
    charge["disputed"] = True
    state.emit("charge.dispute.created", made)
    return made


def close_dispute(state: State, dispute: dict[str, Any], outcome: str) -> None:
    if dispute["status"] in ("won", "lost"):
        raise invalid("This dispute is already closed.", param="id")
    previous = {"status": dispute["status"]}
    dispute["status"] = outcome
    dispute["evidence_details"]["past_due"] = False
    state.emit("charge.dispute.closed", dispute, previous)


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

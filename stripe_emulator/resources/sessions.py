"""Checkout sessions: create, retrieve, list, line items, expire."""

from __future__ import annotations

import heapq
from typing import Any

from stripe_emulator.checkout.create import create_session as make_session
from stripe_emulator.checkout.settle import expire, open_session
from stripe_emulator.checkout.totals import breakdown
from stripe_emulator.errors import invalid
from stripe_emulator.expansion import Extras
from stripe_emulator.listing import LIST_PARAMS
from stripe_emulator.params import check_known, mapping, text
from stripe_emulator.resources.call import Call, Handler
from stripe_emulator.state import State, public

STATUSES = ("open", "complete", "expired")


def create_session(call: Call) -> dict[str, Any]:
    session = make_session(call.state, call.params, call.base_url)
    heapq.heappush(call.state.expiries, (session["expires_at"], session["id"]))  # expire_overdue's
    return call.show(session)


def retrieve_session(call: Call) -> dict[str, Any]:
    check_known(call.params, {"expand"})
    return call.show(open_session(call.state, call.ids["id"]))


def list_sessions(call: Call) -> dict[str, Any]:
    p = call.params
    check_known(p, LIST_PARAMS | {"status", "customer", "payment_intent", "customer_details", "payment_link"})
    status, customer = text(p, "status", max_length=20), text(p, "customer", max_length=255)
    pi = text(p, "payment_intent", max_length=255)
    if status not in (None, *STATUSES):
        raise invalid("status must be open, complete or expired.", param="status")
    for session_id in list(call.state.sessions):
        open_session(call.state, session_id)  # the overdue expire as they are read
    details = mapping(p, "customer_details") or {}
    check_known(details, {"email"}, "customer_details")
    email = text(details, "email", max_length=800, where="customer_details[email]")
    rows = [s for s in call.state.sessions.values()
            if (status is None or s["status"] == status) and (customer is None or s["customer"] == customer)
            and (pi is None or s["payment_intent"] == pi)
            and (email is None or (s.get("customer_details") or {}).get("email") == email)]
    return call.page(rows, "/v1/checkout/sessions")


def session_line_items(call: Call) -> dict[str, Any]:
    check_known(call.params, LIST_PARAMS - {"created"})
    session = open_session(call.state, call.ids["id"])
    # Line items keep their order (first first); pages are newest first, so reverse them.
    return call.page(reversed(session["_line_items"]), f"/v1/checkout/sessions/{session['id']}/line_items")


def expire_session(call: Call) -> dict[str, Any]:
    check_known(call.params, {"expand"})
    session = open_session(call.state, call.ids["id"])
    if session["status"] != "open":
        raise invalid(f"Only Checkout Sessions with a status of `open` can be expired. This session has "
                      f"a status of `{session['status']}`.", param="id", code="checkout_session_not_open")
    expire(call.state, session)
    return call.show(session)


INCLUDED_LINE_ITEMS = 10  # as Stripe: an expanded list carries its first ten; has_more says if there are more


def _line_items(state: State, shown: dict[str, Any]) -> dict[str, Any]:
    items = state.sessions[shown["id"]]["_line_items"]
    return {"object": "list", "data": [public(i) for i in items[:INCLUDED_LINE_ITEMS]],
            "has_more": len(items) > INCLUDED_LINE_ITEMS,
            "url": f"/v1/checkout/sessions/{shown['id']}/line_items"}


# Fields a session shows only when expanded.
EXTRAS: dict[str, Extras] = {"checkout.session": {"line_items": _line_items, "total_details.breakdown": breakdown}}


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/checkout/sessions", create_session),
    ("GET", "/v1/checkout/sessions", list_sessions),
    ("GET", "/v1/checkout/sessions/{id}", retrieve_session),
    ("GET", "/v1/checkout/sessions/{id}/line_items", session_line_items),
    ("POST", "/v1/checkout/sessions/{id}/expire", expire_session),
]

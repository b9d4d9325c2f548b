"""An order's timeline: what happened and when, each event once, in time order.

Events are kept on the order (`events`, store/records/timeline.py) as a map keyed by the
event's identity, and merged by union in the same versioned write that records the fact
behind them (`with_events`: commerce/orders.py for payment facts, commerce/fulfillment.py
for shipping), so a duplicate or late webhook adds nothing and an event keeps the time it
first landed. Reordered facts still make each event once: a dispute that arrives already
won records both its opening and its outcome, and its late `created` adds nothing.

    key                  kind             from
    placed               PLACED           the checkout (at: the session's creation)
    paid                 PAID             facts.paid
    payment_failed       PAYMENT_FAILED   facts.payment_failed
    review               NEEDS_REVIEW     the session did not match its quote        (staff only)
    refund:{id}          REFUNDED         a refund that counts (pending, succeeded)  amount
    refund:{id}:failed   REFUND_FAILED    a refund that failed or was canceled       (staff only)
    dispute:{id}         DISPUTE_OPENED   any dispute or inquiry                     (staff only)
    dispute:{id}:{won|lost}  DISPUTE_WON / DISPUTE_LOST                              (staff only)
    shipped, delivered, cancelled         fulfilment (commerce/fulfillment.py)
    email:{id}           EMAIL_SENT       the email outbox: `email_sent` + `record_events`

Events of the same second show in the order they were recorded (`seq`, numbered in the
write that adds them), then in the order things happen (placed, paid, refunded, ...).

Orders written before events were kept show what their facts imply (`timeline`): placed
and paid at the order's creation, the rest at its last update.

The hook for the email outbox: `commerce.orders.record_events(store, order, {key:
email_sent(...)})` merges events into the stored order and its listing copy (once per
key), and `timeline(order, extra)` takes
entries kept elsewhere (an outbox read alongside the order) to show with the order's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from commerce.facts import COUNTED_REFUNDS, DISPUTE_STATE, Facts
from store.records import Order, OrderEvent

# Shown to the order's shopper; the rest (review, failed refunds, disputes) to staff only.
SHOPPER_KINDS = frozenset({"PLACED", "PAID", "PAYMENT_FAILED", "REFUNDED", "SHIPPED", "DELIVERED", "CANCELLED",
                           "EMAIL_SENT"})
# Events of the same second, in the order they happen.
_RANK = {"PLACED": 0, "NEEDS_REVIEW": 1, "PAYMENT_FAILED": 2, "PAID": 3, "EMAIL_SENT": 4, "REFUNDED": 5,
         "REFUND_FAILED": 6, "DISPUTE_OPENED": 7, "DISPUTE_WON": 8, "DISPUTE_LOST": 8, "CANCELLED": 9,
         "SHIPPED": 10, "DELIVERED": 11}


def fact_events(facts: Facts, *, review: bool, placed_at: int, at: int) -> dict[str, OrderEvent]:
    """Every event the facts imply, placed at `placed_at` and the rest at `at`."""
    events = {"placed": OrderEvent("PLACED", placed_at)}
    if review:
        events["review"] = OrderEvent("NEEDS_REVIEW", at)
    if facts.paid:
        events["paid"] = OrderEvent("PAID", at)
    if facts.payment_failed:
        events["payment_failed"] = OrderEvent("PAYMENT_FAILED", at)
    for refund_id, refund in facts.refunds.items():
        if refund.status in COUNTED_REFUNDS:
            events[f"refund:{refund_id}"] = OrderEvent("REFUNDED", at, refund.amount)
        else:
            events[f"refund:{refund_id}:failed"] = OrderEvent("REFUND_FAILED", at, refund.amount)
    for dispute_id, dispute in facts.disputes.items():
        events[f"dispute:{dispute_id}"] = OrderEvent("DISPUTE_OPENED", at, dispute.amount)
        state = DISPUTE_STATE[dispute.status]
        if state in ("won", "lost"):
            events[f"dispute:{dispute_id}:{state}"] = OrderEvent(f"DISPUTE_{state.upper()}", at, dispute.amount)
    return events


def implied(order: Order) -> dict[str, OrderEvent]:
    """What an order's facts imply, at the times an order without events can honestly show:
    placed and paid at its creation, the rest at its last update."""
    events = fact_events(order.facts, review=order.review, placed_at=order.created_at, at=order.updated_at)
    if "paid" in events:
        events["paid"] = OrderEvent("PAID", order.created_at)
    return events


def with_events(current: Order, changed: Order, new: Mapping[str, OrderEvent]) -> Order:
    """`changed` (made from `current`) with `new` events merged in: what is stored keeps
    its time; an order stored without events is given what its facts implied first. New
    events are numbered after the stored ones (`seq`), in the order things happen."""
    kept = current.events or implied(current)
    added = sorted(((key, e) for key, e in new.items() if key not in kept), key=lambda item: _order(*item))
    if not added and kept == changed.events:
        return changed
    after = max((e.seq for e in kept.values()), default=0) + 1
    merged = {**kept, **{key: replace(e, seq=after + n) for n, (key, e) in enumerate(added)}}
    return replace(changed, events=merged)


def _order(key: str, event: OrderEvent) -> tuple[int, int, int, str]:
    return event.at, event.seq, _RANK.get(event.kind, 99), key


def with_fact_events(current: Order, changed: Order, at: int) -> Order:
    """`changed` with the events its facts imply that are not stored yet, at `at`."""
    return with_events(current, changed, fact_events(changed.facts, review=changed.review,
                                                     placed_at=changed.created_at, at=at))


def timeline(order: Order, extra: Iterable[tuple[str, OrderEvent]] = (), *,
             staff: bool = False) -> list[OrderEvent]:
    """The order's events in time order (ties in the order things happen); without
    `staff`, only those its shopper sees. `extra`: events kept elsewhere, by key."""
    events = {**implied(order), **order.events, **dict(extra)}
    shown = [(key, e) for key, e in events.items() if staff or e.kind in SHOPPER_KINDS]
    shown.sort(key=lambda item: _order(*item))
    if staff:
        return [e for _, e in shown]
    # a cancel reason (fraudulent, say) is the shop's note, not the shopper's
    return [replace(e, detail=None) if e.kind == "CANCELLED" else e for _, e in shown]


def email_sent(at: int, kind: str) -> OrderEvent:
    """An email the outbox delivered (`kind`: confirmation, shipping, refund, ...)."""
    return OrderEvent("EMAIL_SENT", at, detail=kind[:100])


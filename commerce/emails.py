"""Which messages an order owes its shopper, recorded in the outbox.

    kind          due when                                    ref           guard
    confirmation  the order is paid (not NEEDS_REVIEW, not        confirmation  placed within EMAIL_MAX_AGE_HOURS
                  OUT_OF_STOCK: the shop decides those first)
    shipping      fulfilment is SHIPPED (or DELIVERED)        shipping      shipped within EMAIL_MAX_AGE_HOURS
    refund        a refund that counts (pending, succeeded)   the refund id order placed within
                                                                            EMAIL_REFUND_MAX_AGE_DAYS

`queue_due_messages` is called after every write of an order (`commerce/orders.py`: a new
order, merged facts, a new owner; the fulfilment functions do the same), not only on a
transition: it looks at the order as it now is and records each message it owes that is
not recorded yet. Each message has a deterministic identity (order, kind, ref) and is
written with a put-if-absent, so duplicate webhooks, the success page and reconciliation
record one message; a crash between the order's write and the message's is repaired by the
next write of the order (Stripe's retry, sync). The guards keep history unmailed: an order
placed long ago that reconciliation sees for the first time (the shop's old table) gets no
confirmation. An order without an email gets none (counted).

A message is written first, then its outbox pointer (OUTBOX / EMAIL#…, read by the sender
in jobs/emails.py); a message whose pointer a crash left unwritten is seen PENDING without
one by the next call, which writes it. The sender, not this module, delivers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from store import Store, keys
from store.records import Order, OutboxMessage, get_record, put_record, record_of
from store.records.emails import PENDING, SENT
from store.records.facts import COUNTED_REFUNDS
from store.records.fulfillment import DELIVERED, SHIPPED
from telemetry.metrics import EMAILS_RECORDED, ORDERS_WITHOUT_EMAIL

log = logging.getLogger("gateway.emails")

CONFIRMATION, SHIPPING, REFUND = "confirmation", "shipping", "refund"
KINDS = (CONFIRMATION, SHIPPING, REFUND)


@dataclass(frozen=True, slots=True)
class Policy:
    """How old a fact may be and still be mailed (EMAIL_MAX_AGE_HOURS, EMAIL_REFUND_MAX_AGE_DAYS)."""
    max_age_seconds: int = 72 * 3600
    refund_max_age_seconds: int = 180 * 86400


_policy = Policy()
_listeners: list[Callable[[], None]] = []


def configure(policy: Policy) -> None:
    """Set once per process at start (server, CLI, Lambda) from the settings."""
    global _policy
    _policy = policy


def listen(nudge: Callable[[], None]) -> Callable[[], None]:
    """Call `nudge` (thread-safe, cheap) whenever a message is recorded, so a sender running
    in this process sends it now rather than at its next round. Returns the unsubscribe."""
    _listeners.append(nudge)
    return lambda: _listeners.remove(nudge) if nudge in _listeners else None


@dataclass(frozen=True, slots=True)
class Due:
    kind: str
    ref: str


def due_messages(order: Order, now: int, policy: Policy | None = None) -> list[Due]:
    """What the order owes its shopper as it is now (recorded or not)."""
    policy = policy or _policy
    if not order.email or order.review or order.status == "OUT_OF_STOCK":
        return []
    due = []
    if order.facts.paid and now - order.created_at <= policy.max_age_seconds:
        due.append(Due(CONFIRMATION, CONFIRMATION))
    shipment = order.fulfillment
    if shipment.status in (SHIPPED, DELIVERED) and \
            now - (shipment.shipped_at or order.updated_at) <= policy.max_age_seconds:
        due.append(Due(SHIPPING, SHIPPING))
    if now - order.created_at <= policy.refund_max_age_seconds:
        due += [Due(REFUND, refund_id) for refund_id, refund in sorted(order.facts.refunds.items())
                if refund.status in COUNTED_REFUNDS]
    return due


async def queue_due_messages(store: Store, order: Order, *, fresh: bool = False) -> int:
    """Record each message the order owes that is not recorded yet; the number recorded.
    For an order just made (`fresh`), write without reading first."""
    now = int(time.time())
    if not order.email:
        if fresh and order.facts.paid:
            ORDERS_WITHOUT_EMAIL.inc()
            log.info("order %s has no email: no messages", order.order_id)
        return 0
    due = due_messages(order, now)
    if not due:
        return 0
    messages = [OutboxMessage(order.order_id, d.kind, d.ref, order.email, now, next_attempt_at=now,
                             updated_at=now) for d in due]
    recorded = 0
    if fresh:
        for message in messages:
            recorded += await _record(store, message)
    else:
        wanted = [m.key for m in messages] + [m.pointer.key for m in messages]
        found = await store.batch_get(wanted)  # one read, however many are due
        for message in messages:
            stored = record_of(found, message.key, OutboxMessage)
            if stored is None:
                recorded += await _record(store, message)
            elif stored.status == PENDING and message.pointer.key not in found:
                await put_record(store, stored.pointer)  # a crash came between the two writes
    if recorded:
        for nudge in list(_listeners):
            nudge()
    return recorded


async def _record(store: Store, message: OutboxMessage) -> int:
    if not await put_record(store, message, if_absent=True):
        return 0  # a concurrent caller recorded it (and writes its pointer)
    await put_record(store, message.pointer)
    EMAILS_RECORDED.labels(message.kind).inc()
    return 1


async def messages_of(store: Store, order_id: str) -> list[OutboxMessage]:
    """Every message recorded for an order (one query of its partition), oldest first."""
    page = await store.query(keys.email_partition(order_id), limit=1000, newest_first=False)
    return sorted((OutboxMessage.from_item(item) for item in page.items), key=lambda m: (m.created_at, m.kind))


async def sent_messages(store: Store, order_id: str) -> list[OutboxMessage]:
    """The messages an order's shopper was sent (`sent_at` says when): the timeline's
    "email sent" events."""
    return [m for m in await messages_of(store, order_id) if m.status == SENT]


async def find_message(store: Store, order_id: str, kind: str, ref: str) -> OutboxMessage | None:
    return await get_record(store, OutboxMessage, keys.email(order_id, kind, ref))

"""Reconciliation: find and repair what the webhooks missed (`gateway sync-orders`, the
`syncOrders` mutation, the schedule). It calls the commerce functions the webhooks call:
the one order function, the facts of a session's charge (`commerce/charges.py`), and,
for events Stripe could not deliver, the webhook's map of event types and its receipts.

Safe at any time, any number of times, and after a crash:
- One run at a time: a lease item (SYSTEM / SYNC_LEASE) that expires, so a dead run
  never blocks the next.
- Sessions are read newest first, a page of 100 at a time (with their charges and
  refunds), each through the one order function (creating missing orders) with refunds
  and disputes brought up to date. The
  window reaches back a day before the last run, since a session can be paid up to 24 h
  after it was created.
- The checkpoint (SYSTEM / STRIPE_SYNC) records the page reached after every page, so a
  run that died resumes where it stopped; redoing a page changes nothing.
- Then events Stripe could not deliver (delivery_success=false, the 30 days it keeps)
  go through the webhook handlers, exactly once (the same receipts as the webhook).
- Stripe calls are throttled (STRIPE_SYNC_RATE per second); the SDK backs off on 429.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from commerce.charges import session_facts
from commerce.emails import queue_due_messages
from commerce.orders import apply_facts, is_ours, order_from_recorded_session, order_status
from payments import CheckoutSession, Payments
from store import Store, keys
from store.base import now_epoch
from store.records import (
    CheckoutRecord,
    Order,
    SyncCheckpoint,
    SyncLease,
    SyncRun,
    Unreadable,
    get_record,
    put_record,
    record_of,
    unreadable,
)
from webhooks import receipts
from webhooks.handlers import apply_event

LEASE_SECONDS = 300
LOOKBACK = 24 * 3600  # a session can be paid up to a day after it is created
FIRST_WINDOW = 24 * 3600
EVENT_HORIZON = 30 * 86400
# Events whose news the listing has already read from the session. (Not the async
# payment events: a payment that settles after the listing read its session says more.)
SESSION_SETTLED = frozenset({"checkout.session.completed"})
HANDLED_EVENTS = [
    "checkout.session.completed", "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed", "charge.refunded", "charge.refund.updated", "refund.failed",
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
]


class SyncInProgress(Exception):
    """Another reconciliation holds the lease."""


@dataclass
class SyncReport:
    scanned: int = 0
    created: int = 0
    updated: int = 0
    ignored: int = 0  # sessions this gateway did not make
    unreadable: int = 0  # stored orders that could not be read: logged, skipped
    events: int = 0  # undelivered events processed
    pages: int = 0
    since: int = 0
    until: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Hook = Callable[[SyncReport], Awaitable[None] | None]


async def sync_orders(
    store: Store, payments: Payments, *, since: int | None = None, dry_run: bool = False,
    per_second: float = 20, on_page: Hook | None = None,
) -> SyncReport:
    holder = await _take_lease(store)
    try:
        return await _run(store, payments.throttled(per_second), holder, since, dry_run, on_page)
    finally:
        await _release_lease(store, holder)


async def _run(store: Store, payments: Payments, holder: str, since: int | None, dry_run: bool,
               on_page: Hook | None) -> SyncReport:
    checkpoint = await get_record(store, SyncCheckpoint, keys.STRIPE_SYNC) or SyncCheckpoint()
    now = now_epoch()
    run = checkpoint.run if since is None else None
    if run is None:
        last = checkpoint.last_sync_at
        start = since if since is not None else (
            last - LOOKBACK if isinstance(last, int) and not isinstance(last, bool) else now - FIRST_WINDOW)
        run = SyncRun(start, now)
    report = SyncReport(since=run.since, until=run.until, dry_run=dry_run)
    reconciled: set[str] = set()  # our sessions brought up to date by this run
    while True:
        page = await payments.list_completed_sessions(
            created_from=run.since, created_until=run.until, starting_after=run.starting_after)
        for session in page.items:
            await _reconcile(store, payments, session, report)
            if is_ours(session):
                reconciled.add(session.id)  # looked at: its completed event needs no second look
        report.pages += 1
        if page.items:
            run = replace(run, starting_after=page.items[-1].id)
        if not dry_run:
            checkpoint = await _save_checkpoint(store, checkpoint, run if page.has_more else None, report)
            await _renew_lease(store, holder)
        if on_page is not None:
            result = on_page(report)
            if result is not None:
                await result
        if not page.has_more:
            break
    await _undelivered_events(store, payments, report, dry_run, reconciled)
    return report


async def _reconcile(store: Store, payments: Payments, session: CheckoutSession, report: SyncReport) -> None:
    report.scanned += 1
    if not is_ours(session):
        report.ignored += 1
        return
    order_key, record_key = keys.order_pointer(session.id), keys.session_pointer(session.id)
    found = await store.batch_get([order_key, record_key])
    stored, record = found.get(order_key), record_of(found, record_key, CheckoutRecord)
    if stored is None and record is None:
        report.ignored += 1  # our metadata, but not a session this gateway made: never an order
        return
    facts = await session_facts(payments, session)
    if stored is None:
        if report.dry_run or await order_from_recorded_session(
                store, payments, session.id, existing=None, record=record, facts=facts,
                session=session) is not None:
            report.created += 1
        return
    try:
        existing = Order.from_item(stored)
    except Unreadable as why:  # reported, skipped: the run goes on
        unreadable(stored, str(why))
        report.unreadable += 1
        return
    merged = existing.facts.merge(facts)
    if merged == existing.facts and (existing.set_by_hand or existing.status == order_status(existing, merged)):
        if not report.dry_run:  # up to date: but a message a crash left unrecorded is recorded now
            await queue_due_messages(store, existing)
        return
    if not report.dry_run:
        await apply_facts(store, existing, facts)
    report.updated += 1


async def _undelivered_events(store: Store, payments: Payments, report: SyncReport, dry_run: bool,
                              reconciled: set[str]) -> None:
    """Events Stripe could not deliver, through the webhook handlers. A completed session
    this run has just reconciled from the listing needs no second look at Stripe: its
    event is only recorded as handled."""
    created_from, starting_after = now_epoch() - EVENT_HORIZON, None
    while True:
        page = await payments.list_undelivered_events(types=HANDLED_EVENTS, created_from=created_from,
                                                      starting_after=starting_after)
        for event in page.items:
            if dry_run:
                continue
            if await receipts.claim(store, event.id, event.type) != "new":
                continue
            try:
                if event.type in SESSION_SETTLED and event.object_id in reconciled:
                    outcome = "applied"
                else:
                    outcome = await apply_event(store, payments, event)
            except Exception as exc:
                await receipts.fail(store, dict(event.json), f"{type(exc).__name__}: {exc}")
                raise
            await receipts.finish(store, event.id, event.type, outcome)
            report.events += 1
        if not page.has_more or not page.items:
            return
        starting_after = page.items[-1].id


async def _save_checkpoint(store: Store, checkpoint: SyncCheckpoint, run: SyncRun | None,
                           report: SyncReport) -> SyncCheckpoint:
    saved = replace(checkpoint, run=run)
    if run is None:  # the window is done: the next run starts from here
        saved = replace(saved, last_sync_at=report.until, last_sync_count=report.created)
    await put_record(store, saved)
    return saved


async def _take_lease(store: Store) -> str:
    holder = uuid.uuid4().hex
    if not await put_record(store, SyncLease(holder, now_epoch() + LEASE_SECONDS), if_absent=True):
        raise SyncInProgress("a reconciliation is already running")
    return holder


async def _renew_lease(store: Store, holder: str) -> None:
    current = await get_record(store, SyncLease, keys.SYNC_LEASE)
    if current is not None and current.holder == holder:
        await put_record(store, replace(current, expires_at=now_epoch() + LEASE_SECONDS))


async def _release_lease(store: Store, holder: str) -> None:
    current = await get_record(store, SyncLease, keys.SYNC_LEASE)
    if current is not None and current.holder == holder:
        await store.delete(keys.SYNC_LEASE)

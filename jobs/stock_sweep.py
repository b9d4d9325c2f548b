"""The stock sweep: holds whose session's time has passed without an event that settled
them (`checkout.session.expired` lost or late), each settled from what Stripe says of
its session now. Run by the schedule (deploy/template.yaml: StockSweepFunction, every
five minutes) and `gateway sweep-stock`; safe at any time, any number of times, from any
number of processes (every move of a hold is conditional: commerce/stock.py).

    the hold's session          what the sweep does
    none recorded, or unknown   release (no session was made, or it cannot be paid)
    open past its expiry        expire it at Stripe first (so it can never be paid), release
    expired                     release (as the expired event does)
    complete, paid              the order (commerce.orders: sells the hold)
    complete, payment failed    release
    complete, payment pending   keep: a delayed payment settles later (async_payment_*)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from commerce.checkout import payment_failed, quote_sessions
from commerce.orders import order_from_session
from commerce.stock import release
from payments import Payments
from store import Store, keys
from store.records import get_record
from store.records.stock import OpenReservation, Reservation
from telemetry.metrics import log_line

log = logging.getLogger("gateway.stock")
GRACE_SECONDS = 60  # Stripe's own expiry and event come first when they can
MAX_PER_RUN = 1000


@dataclass
class SweepReport:
    looked_at: int = 0
    released: int = 0
    sold: int = 0
    kept: int = 0  # delayed payments still settling


async def sweep_stock(store: Store, payments: Payments, *, now: int, grace: int = GRACE_SECONDS) -> SweepReport:
    report = SweepReport()
    cursor = None
    while report.looked_at < MAX_PER_RUN:
        page = await store.query(keys.OPEN_RESERVATIONS, limit=100, cursor=cursor, newest_first=False)
        for item in page.items:
            entry = OpenReservation.from_item(item)
            if entry.hold_until + grace > now:
                return _logged(report)
            report.looked_at += 1
            await _settle(store, payments, entry, report, now)
        cursor = page.cursor
        if cursor is None:
            break
    return _logged(report)


def _logged(report: SweepReport) -> SweepReport:
    if report.looked_at:
        log_line("stock_sweep", lookedAt=report.looked_at, released=report.released, sold=report.sold,
                 kept=report.kept)
    return report


async def _settle(store: Store, payments: Payments, entry: OpenReservation, report: SweepReport, now: int) -> None:
    hold = await get_record(store, Reservation, entry.reservation_key)
    if hold is None or hold.state != "reserved":
        await store.delete(entry.key)  # a listing its hold's move left behind (a crash between)
        return
    sessions = [s for s in await quote_sessions(store, hold.signature) if s.generation == hold.generation]
    session = await payments.retrieve_session(sessions[0].session_id, with_payment_intent=True) if sessions else None
    if session is not None and session.status == "open" and not await payments.expire_session(session.id):
        session = await payments.retrieve_session(session.id, with_payment_intent=True)  # it moved meanwhile
    if session is not None and session.status == "complete":
        if session.payment_status == "paid":
            await order_from_session(store, payments, session.id, session=None)
            report.sold += 1
            return
        if not payment_failed(session):
            report.kept += 1
            return
    why = "no session" if session is None else f"sweep: session {session.status}"
    await release(store, hold, now=now, why=why)
    report.released += 1

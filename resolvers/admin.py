from __future__ import annotations

from datetime import datetime

from commerce.errors import ErrorCode, Problem
from web.context import Context
from store.base import now_epoch
from jobs.reconcile import SyncInProgress, SyncReport, sync_orders


EARLIEST = 1262304000  # 2010-01-01: nothing of Stripe Checkout is older


async def run_sync(context: Context, since: datetime | None) -> SyncReport | list[Problem]:
    """The same reconciliation as `gateway sync-orders`; the caller has checked the role."""
    services = context.services
    start = None
    if since is not None:
        start = int(since.timestamp()) if since.tzinfo else None
        if start is None or not EARLIEST <= start <= now_epoch():
            return [Problem(("input", "since"), ErrorCode.INVALID_INPUT,
                            "since must be an instant with a time zone, after 2010 and not in the future.")]
    try:
        return await sync_orders(services.store, services.payments, since=start,
                                 per_second=services.settings.stripe_sync_rate)
    except SyncInProgress:
        return [Problem(None, ErrorCode.SYNC_IN_PROGRESS,
                        "A reconciliation is already running; try again when it has finished.")]

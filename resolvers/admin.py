from __future__ import annotations

from datetime import datetime

from commerce.errors import ErrorCode, Problem
from context import Context
from webhooks.reconcile import SyncInProgress, SyncReport, sync_orders


async def run_sync(context: Context, since: datetime | None) -> SyncReport | list[Problem]:
    """The same reconciliation as `gateway sync-orders`; the caller has checked the role."""
    services = context.services
    try:
        return await sync_orders(services.store, services.payments,
                                 since=int(since.timestamp()) if since else None,
                                 per_second=services.settings.stripe_sync_rate)
    except SyncInProgress:
        return [Problem(None, ErrorCode.SYNC_IN_PROGRESS,
                        "A reconciliation is already running; try again when it has finished.")]

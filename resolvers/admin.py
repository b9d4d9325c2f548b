"""syncOrders: the same reconciliation as `gateway sync-orders`, for an admin's token."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from strawberry.types.unset import UnsetType

from commerce.errors import ErrorCode
from resolvers.refusals import Refused, refusal
from store.base import now_epoch
from web.context import Context

if TYPE_CHECKING:  # the reconciliation job loads when an admin first runs it, not at a cold start
    from jobs.reconcile import SyncReport

EARLIEST = 1262304000  # 2010-01-01: nothing of Stripe Checkout is older


class SyncInput(Protocol):
    since: datetime | None


async def run_sync(context: Context, input: SyncInput | UnsetType | None) -> SyncReport | Refused:
    """The caller has checked the role. No input (null, or left out: UNSET) and no
    `since` both start from the last checkpoint."""
    since = None if input is None or isinstance(input, UnsetType) else input.since
    start = None
    if since is not None:
        start = int(since.timestamp()) if since.tzinfo else None
        if start is None or not EARLIEST <= start <= now_epoch():
            return refusal(("input", "since"), ErrorCode.INVALID_INPUT,
                           "since must be an instant with a time zone, after 2010 and not in the future.")
    from jobs.reconcile import SyncInProgress, sync_orders

    services = context.services
    try:
        return await sync_orders(services.store, services.payments, since=start,
                                 per_second=services.settings.stripe_sync_rate)
    except SyncInProgress:
        return refusal(None, ErrorCode.SYNC_IN_PROGRESS,
                       "A reconciliation is already running; try again when it has finished.")

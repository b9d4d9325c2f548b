"""`gateway index-orders`: list orders written before the order indexes (or by the system
we replace) in them. The indexes hold only items that carry their attributes, which every
write of an order now computes (store/records/order_index.py); this rewrites each order
item (ORDER#{id} / METADATA) whose attributes are missing or stale, over the version it
read (a concurrent update wins, and already carries them). A one-off migration: it reads
the whole table (a paginated scan), so it never runs on a request. Safe to run again;
a second run writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from store import Store
from store.base import Item
from store.records import readable
from store.records.order_index import INDEX_ATTRIBUTES


@dataclass
class IndexReport:
    scanned: int = 0
    orders: int = 0
    indexed: int = 0  # rewritten with their index attributes
    unreadable: int = 0


def _is_order_item(item: Item) -> bool:
    return item.get("SK") == "METADATA" and str(item.get("PK", "")).startswith("ORDER#")


async def index_orders(store: Store, *, progress: Callable[[IndexReport], None] | None = None) -> IndexReport:
    report, cursor = IndexReport(), None
    while True:
        page = await store.scan(limit=500, cursor=cursor)
        for item in page.items:
            report.scanned += 1
            if not _is_order_item(item):
                continue
            report.orders += 1
            order = readable(item)
            if order is None:
                report.unreadable += 1
                continue
            wanted = order.to_item()
            if all(item.get(name) == wanted.get(name) for name in INDEX_ATTRIBUTES):
                continue
            updated = replace(order, version=order.version + 1).to_item()
            if await store.put(updated, if_version=order.version):
                report.indexed += 1
        if progress:
            progress(report)
        if (cursor := page.cursor) is None:
            return report

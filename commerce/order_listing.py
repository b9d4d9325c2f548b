"""The shop's view of every order, newest first, through the order indexes
(store/keys.py), never a scan.

A filter picks one index and one or more of its partitions:

    filter                      index               partitions read per page
    none (dates only)           orders-index        1
    status and fulfilment       orderState-index    1 (PAID#UNFULFILLED)
    status                      orderState-index    4 (one per fulfilment status)
    fulfilment                  orderState-index    8 (one per status, and OTHER: set by hand)
    email (+ anything)          orderEmail-index    1, status/fulfilment read from the entry

Dates are bounds on the sort key, so every filter costs at most its partitions' queries
and one batch read of the page. Partitions are read first+1 at a time and merged; the
email index filters status and fulfilment from what it reads, so it reads a fixed
EMAIL_READS entries a page: such a page may be short (even empty) with hasNextPage, and
never costs more. totalCount is one count per partition: O(matching orders) on DynamoDB
(Select=COUNT, about 8,000 of these small index entries a request), an index count on SQLite.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from itertools import product

from store import Store, keys
from store.base import Having, IndexEntry, IndexPage
from store.records import STATUSES, Order, readable
from store.records.fulfillment import FULFILLMENT_STATUSES
from store.records.order_index import OTHER_STATUS

EMAIL_READS = 200  # index entries one email-filtered page reads (one store query)


@dataclass(frozen=True, slots=True)
class OrderFilter:
    status: str | None = None
    fulfillment: str | None = None
    email: str | None = None
    created_from: int | None = None  # epoch seconds, inclusive
    created_to: int | None = None  # epoch seconds, exclusive


@dataclass(frozen=True, slots=True)
class Listing:
    orders: list[Order]
    positions: list[str]  # each order's position: the cursor that continues after it
    has_next_page: bool
    end: str | None  # where the next page starts (below it)


@dataclass(frozen=True, slots=True)
class Plan:
    index: keys.Index
    partitions: tuple[str, ...]
    having: Having | None


def plan(f: OrderFilter) -> Plan:
    states = None
    if f.status or f.fulfillment:
        statuses = [f.status] if f.status else [*sorted(STATUSES), OTHER_STATUS]
        fulfilments = [f.fulfillment] if f.fulfillment else list(FULFILLMENT_STATUSES)
        states = tuple(keys.order_state(s, m) for s, m in product(statuses, fulfilments))
    if f.email:
        having = (keys.ORDER_STATE_INDEX.partition, frozenset(states)) if states else None
        return Plan(keys.ORDER_EMAIL_INDEX, (keys.guest_email(f.email),), having)
    if states:
        return Plan(keys.ORDER_STATE_INDEX, states, None)
    return Plan(keys.ORDERS_INDEX, (keys.ALL_ORDERS,), None)


def _bounds(f: OrderFilter, after: str | None) -> tuple[str | None, str | None]:
    below = keys.listed_from(f.created_to) if f.created_to is not None else None
    if after is not None:
        below = after if below is None else min(below, after)
    return below, keys.listed_from(f.created_from) if f.created_from is not None else None


async def list_orders(store: Store, f: OrderFilter, first: int, after: str | None) -> Listing:
    """One page: the plan's queries (concurrently) and one batch read."""
    chosen = plan(f)
    below, at_least = _bounds(f, after)
    limit = EMAIL_READS if chosen.having else first + 1
    pages = await asyncio.gather(*(
        store.query_index(chosen.index, p, below=below, at_least=at_least, limit=limit, having=chosen.having)
        for p in chosen.partitions))
    entries, has_next, end = merge(pages, first)
    found = await store.batch_get([e.key for e in entries]) if entries else {}
    kept = [(order, e.sort) for e in entries
            if (item := found.get(e.key)) is not None and (order := readable(item)) is not None]
    return Listing([o for o, _ in kept], [p for _, p in kept], has_next, end)


def merge(pages: list[IndexPage], first: int) -> tuple[list[IndexEntry], bool, str | None]:
    """Newest first across partitions. A partition that stopped at `last_seen` may hold
    more below it, so only entries at or above the highest such point are in order."""
    cut = max((p.last_seen for p in pages if p.last_seen is not None), default=None)
    merged = sorted((e for p in pages for e in p.entries), key=lambda e: e.sort, reverse=True)
    ready = [e for e in merged if cut is None or e.sort >= cut]
    if len(ready) > first:
        return ready[:first], True, ready[first - 1].sort
    if cut is not None:
        return ready, True, cut
    return ready, False, ready[-1].sort if ready else None


async def count_orders(store: Store, f: OrderFilter) -> int:
    chosen = plan(f)
    below, at_least = _bounds(f, None)
    counts = await asyncio.gather(*(
        store.count_index(chosen.index, p, below=below, at_least=at_least, having=chosen.having)
        for p in chosen.partitions))
    return sum(counts)

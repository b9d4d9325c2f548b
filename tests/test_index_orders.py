"""`gateway index-orders` on both engines: orders written before the indexes get listed."""

from __future__ import annotations

from commerce.order_listing import OrderFilter, list_orders
from jobs.index_orders import index_orders
from store.records.order_index import INDEX_ATTRIBUTES
from tests.admin_seed import make_order


async def test_orders_written_before_the_indexes_are_listed_after_index_orders(store):
    orders = [make_order(n) for n in range(30)]
    for order in orders:  # as an earlier version wrote them: no index attributes
        item = {k: v for k, v in order.to_item().items() if k not in INDEX_ATTRIBUTES}
        await store.put(item)
        await store.put(order.to_item(order.listing_key))  # listing copies: never indexed
    assert (await list_orders(store, OrderFilter(), 10, None)).orders == []
    report = await index_orders(store)
    assert (report.orders, report.indexed, report.scanned) == (30, 30, 60)
    listing = await list_orders(store, OrderFilter(), 50, None)
    assert [o.order_id for o in listing.orders] == [o.order_id for o in reversed(orders)]
    assert [o.version for o in listing.orders] == [2] * 30  # rewritten over the version read
    again = await index_orders(store)
    assert again.indexed == 0 and again.orders == 30


async def test_an_unreadable_order_is_counted_and_left_alone(store):
    await store.put({"PK": "ORDER#broken", "SK": "METADATA", "entity": "Order", "orderId": 7})
    report = await index_orders(store)
    assert (report.orders, report.unreadable, report.indexed) == (1, 1, 0)

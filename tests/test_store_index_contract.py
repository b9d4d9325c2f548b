"""The store's index contract (query_index, count_index, scan): like tests/test_store_contract.py,
every test runs unchanged on SQLite and on DynamoDB Local, through the `store` fixture."""

from __future__ import annotations

import asyncio

import pytest

from store import keys
from store.base import BadCursor
from store.keys import ORDER_EMAIL_INDEX, ORDER_STATE_INDEX, ORDERS_INDEX, Key


def entry(n: int, *, state: str = "PAID#UNFULFILLED", email: str | None = None, **extra) -> dict:
    item = {"PK": f"ORDER#o{n:04d}", "SK": "METADATA", "entity": "Test", "ordersAll": "ALL",
            "orderState": state, "orderListedAt": keys.listed_at(1_700_000_000 + n, f"o{n:04d}"), **extra}
    if email:
        item["orderEmail"] = email
    return item


async def fill(store, items) -> None:
    await asyncio.gather(*(store.put(i) for i in items))


async def test_an_index_partition_reads_newest_first_in_bounded_pages(store):
    await fill(store, [entry(n) for n in range(25)])
    await store.put({"PK": "USER#u", "SK": "ORDER#1", "entity": "Test"})  # not indexed: sparse
    first = await store.query_index(ORDERS_INDEX, "ALL", limit=10)
    assert [e.key.pk for e in first.entries] == [f"ORDER#o{n:04d}" for n in range(24, 14, -1)]
    assert first.entries[0].key == Key("ORDER#o0024", "METADATA")
    assert first.last_seen == first.entries[-1].sort
    second = await store.query_index(ORDERS_INDEX, "ALL", below=first.last_seen, limit=10)
    third = await store.query_index(ORDERS_INDEX, "ALL", below=second.last_seen, limit=10)
    assert [e.key.pk for e in second.entries + third.entries] == [f"ORDER#o{n:04d}" for n in range(14, -1, -1)]
    assert third.last_seen is None  # fewer than asked: the range is exhausted
    assert await store.count_index(ORDERS_INDEX, "ALL") == 25


async def test_index_bounds_are_at_least_inclusive_and_below_exclusive(store):
    await fill(store, [entry(n) for n in range(10)])
    low, high = keys.listed_from(1_700_000_003), keys.listed_at(1_700_000_007, "o0007")
    page = await store.query_index(ORDERS_INDEX, "ALL", at_least=low, below=high, limit=100)
    assert [e.key.pk for e in page.entries] == ["ORDER#o0006", "ORDER#o0005", "ORDER#o0004", "ORDER#o0003"]
    assert page.last_seen is None
    assert await store.count_index(ORDERS_INDEX, "ALL", at_least=low, below=high) == 4
    assert await store.count_index(ORDERS_INDEX, "ALL", at_least=low) == 7
    assert (await store.query_index(ORDERS_INDEX, "ALL", at_least=high, below=low)).entries == []


async def test_partitions_hold_only_their_own_entries_and_follow_rewrites(store):
    await fill(store, [entry(n, state="PAID#UNFULFILLED" if n % 2 else "REFUNDED#UNFULFILLED") for n in range(6)])
    paid = await store.query_index(ORDER_STATE_INDEX, "PAID#UNFULFILLED", limit=100)
    assert [e.key.pk for e in paid.entries] == ["ORDER#o0005", "ORDER#o0003", "ORDER#o0001"]
    await store.put(entry(3, state="PAID#SHIPPED"))  # a rewrite moves it: the old entry goes
    await asyncio.sleep(0)
    paid = await store.query_index(ORDER_STATE_INDEX, "PAID#UNFULFILLED", limit=100)
    assert [e.key.pk for e in paid.entries] == ["ORDER#o0005", "ORDER#o0001"]
    assert await store.count_index(ORDER_STATE_INDEX, "PAID#SHIPPED") == 1
    await store.delete(Key("ORDER#o0005", "METADATA"))
    assert await store.count_index(ORDER_STATE_INDEX, "PAID#UNFULFILLED") == 1


async def test_having_keeps_matching_entries_and_costs_what_was_read(store):
    states = ["PAID#UNFULFILLED", "PAID#SHIPPED", "REFUNDED#UNFULFILLED"]
    await fill(store, [entry(n, state=states[n % 3], email="a@b.c") for n in range(9)])
    having = ("orderState", frozenset({"PAID#SHIPPED"}))
    page = await store.query_index(ORDER_EMAIL_INDEX, "a@b.c", limit=4, having=having)
    # Read 8, 7, 6, 5: only 7 passes; more may follow below 5.
    assert [e.key.pk for e in page.entries] == ["ORDER#o0007"]
    assert page.last_seen == keys.listed_at(1_700_000_005, "o0005")
    rest = await store.query_index(ORDER_EMAIL_INDEX, "a@b.c", below=page.last_seen, limit=100, having=having)
    assert [e.key.pk for e in rest.entries] == ["ORDER#o0004", "ORDER#o0001"]
    assert await store.count_index(ORDER_EMAIL_INDEX, "a@b.c", having=having) == 3
    assert await store.count_index(ORDER_EMAIL_INDEX, "nobody@b.c", having=having) == 0


async def test_having_on_an_attribute_the_index_does_not_project_is_refused(store):
    with pytest.raises(ValueError):
        await store.query_index(ORDERS_INDEX, "ALL", having=("orderState", frozenset({"x"})))
    with pytest.raises(ValueError):
        await store.count_index(ORDER_EMAIL_INDEX, "a@b.c", having=("orderState", frozenset()))
    with pytest.raises(ValueError):
        await store.query_index(ORDERS_INDEX, "ALL", limit=0)


async def test_scan_visits_every_live_item_once(store):
    await fill(store, [{"PK": f"P{n % 7}", "SK": f"S{n}", "entity": "Test"} for n in range(45)])
    await store.put({"PK": "GONE", "SK": "S", "entity": "Test", "expiresAt": 1})
    seen, cursor = [], None
    while True:
        page = await store.scan(limit=10, cursor=cursor)
        assert len(page.items) <= 10
        seen += [(i["PK"], i["SK"]) for i in page.items]
        if (cursor := page.cursor) is None:
            break
    assert sorted(seen) == sorted((f"P{n % 7}", f"S{n}") for n in range(45))
    with pytest.raises(BadCursor):
        await store.scan(cursor="not a cursor")


async def test_below_is_exclusive_even_when_an_entry_sits_exactly_on_it(store):
    await fill(store, [entry(n) for n in range(6)])
    on = keys.listed_at(1_700_000_004, "o0004")
    low = keys.listed_from(1_700_000_001)
    page = await store.query_index(ORDERS_INDEX, "ALL", at_least=low, below=on, limit=100)
    assert [e.key.pk for e in page.entries] == ["ORDER#o0003", "ORDER#o0002", "ORDER#o0001"]
    assert await store.count_index(ORDERS_INDEX, "ALL", at_least=low, below=on) == 3
    assert await store.count_index(ORDERS_INDEX, "ALL", at_least=on, below=low) == 0

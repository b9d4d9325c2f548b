"""The store contract: every test here runs unchanged on SQLite and on DynamoDB Local."""

from __future__ import annotations

import asyncio

import pytest

from store.base import BadCursor, now_epoch
from store.keys import Key


def item(pk: str, sk: str, **extra) -> dict:
    return {"PK": pk, "SK": sk, "entity": "Test", **extra}


async def test_get_returns_what_was_put_and_none_for_missing(store):
    written = item("USER#u1", "PROFILE", email="a@b.c", count=3, tags=["x"],
                   nested={"amount": 3000, "ok": True, "none": None})
    assert await store.put(written) is True
    assert await store.get(Key("USER#u1", "PROFILE")) == written
    assert await store.get(Key("USER#u1", "OTHER")) is None
    assert await store.get(Key("USER#nobody", "PROFILE")) is None


async def test_put_replaces_unless_if_absent(store):
    await store.put(item("P", "S", v=1))
    await store.put(item("P", "S", v=2))
    assert (await store.get(Key("P", "S")))["v"] == 2
    assert await store.put(item("P", "S", v=3), if_absent=True) is False
    assert (await store.get(Key("P", "S")))["v"] == 2


async def test_floats_are_refused_before_anything_is_written(store):
    with pytest.raises(TypeError):
        await store.put(item("P", "FLOAT", amount=30.0))
    with pytest.raises(TypeError):
        await store.put(item("P", "FLOAT", lines=[{"price": 0.1}]))
    assert await store.get(Key("P", "FLOAT")) is None


async def test_items_without_string_keys_are_refused(store):
    with pytest.raises(ValueError):
        await store.put({"PK": "", "SK": "x"})
    with pytest.raises(ValueError):
        await store.put({"PK": "p"})


async def test_exactly_one_of_many_concurrent_conditional_writers_wins(store):
    writers = [store.put(item("QUOTE#race", "CACHE", writer=n), if_absent=True) for n in range(25)]
    results = await asyncio.gather(*writers)
    assert results.count(True) == 1
    winner = results.index(True)
    assert (await store.get(Key("QUOTE#race", "CACHE")))["writer"] == winner


async def test_expired_items_are_absent_on_read_and_count_as_absent_for_if_absent(store):
    past, future = now_epoch() - 5, now_epoch() + 3600
    await store.put(item("Q", "OLD", expiresAt=past))
    await store.put(item("Q", "NEW", expiresAt=future))
    assert await store.get(Key("Q", "OLD")) is None
    assert (await store.get(Key("Q", "NEW")))["expiresAt"] == future
    assert set(await store.batch_get([Key("Q", "OLD"), Key("Q", "NEW")])) == {Key("Q", "NEW")}
    page = await store.query("Q")
    assert [i["SK"] for i in page.items] == ["NEW"]
    assert await store.put(item("Q", "OLD", expiresAt=future), if_absent=True) is True
    assert await store.put(item("Q", "NEW", expiresAt=future), if_absent=True) is False


async def test_batch_get_splits_over_100_keys_and_dedupes(store):
    await asyncio.gather(*(store.put(item("B", f"K{n:04d}", n=n)) for n in range(0, 250, 2)))
    keys = [Key("B", f"K{n:04d}") for n in range(250)] + [Key("B", "K0000")] * 3
    found = await store.batch_get(keys)
    assert set(found) == {Key("B", f"K{n:04d}") for n in range(0, 250, 2)}
    assert found[Key("B", "K0248")]["n"] == 248
    assert await store.batch_get([]) == {}


async def test_batch_get_retries_partial_results(store):
    # 60 items of ~300 KB: DynamoDB answers at most 16 MB per BatchGetItem and
    # hands back the rest as UnprocessedKeys, which the engine must fetch.
    blob = "x" * 300_000
    for n in range(60):
        await store.put(item("BIG", f"K{n:02d}", blob=blob))
    found = await store.batch_get([Key("BIG", f"K{n:02d}") for n in range(60)])
    assert len(found) == 60
    assert all(len(i["blob"]) == 300_000 for i in found.values())


async def test_query_by_prefix_newest_first_with_cursors(store):
    for ts in range(1, 8):
        await store.put(item("USER#u1", f"ORDER#{1700000000 + ts}#o{ts}", n=ts))
    await store.put(item("USER#u1", "PROFILE"))
    await store.put(item("USER#u2", "ORDER#1800000000#x"))

    seen, cursor = [], None
    while True:
        page = await store.query("USER#u1", prefix="ORDER#", limit=3, cursor=cursor)
        seen.append([i["n"] for i in page.items])
        if page.cursor is None:
            break
        cursor = page.cursor
    assert seen == [[7, 6, 5], [4, 3, 2], [1]]

    oldest = await store.query("USER#u1", prefix="ORDER#", limit=10, newest_first=False)
    assert [i["n"] for i in oldest.items] == [1, 2, 3, 4, 5, 6, 7]
    assert oldest.cursor is None


async def test_query_gives_no_cursor_when_the_page_ends_exactly(store):
    for n in range(4):
        await store.put(item("E", f"ORDER#{n}"))
    page = await store.query("E", prefix="ORDER#", limit=4)
    assert len(page.items) == 4 and page.cursor is None
    assert (await store.query("EMPTY", prefix="ORDER#")).items == []


@pytest.mark.parametrize("cursor", ["", "garbage!", "eyJrIjoiUFJPRklMRSJ9", "e30", "bnVsbA"])
async def test_query_rejects_cursors_it_did_not_make(store, cursor):
    await store.put(item("C", "ORDER#1"))
    with pytest.raises(BadCursor):
        await store.query("C", prefix="ORDER#", cursor=cursor)


async def test_query_limit_is_bounded(store):
    for bad in (0, -1, 1001):
        with pytest.raises(ValueError):
            await store.query("C", limit=bad)


async def test_delete_and_ping(store):
    await store.put(item("D", "X"))
    await store.delete(Key("D", "X"))
    await store.delete(Key("D", "never-there"))
    assert await store.get(Key("D", "X")) is None
    await store.ping()


async def test_versioned_put_writes_only_over_the_expected_version(store):
    await store.put(item("ORDER#1", "METADATA", version=1, status="PAID"))
    assert await store.put(item("ORDER#1", "METADATA", version=2, status="REFUNDED"), if_version=1)
    assert not await store.put(item("ORDER#1", "METADATA", version=2, status="PAID"), if_version=1)
    assert (await store.get(Key("ORDER#1", "METADATA")))["status"] == "REFUNDED"
    assert not await store.put(item("ORDER#missing", "METADATA", version=1), if_version=0)
    assert await store.get(Key("ORDER#missing", "METADATA")) is None


async def test_exactly_one_of_many_concurrent_versioned_writers_wins(store):
    await store.put(item("ORDER#2", "METADATA", version=5))
    results = await asyncio.gather(*(
        store.put(item("ORDER#2", "METADATA", version=6, writer=n), if_version=5) for n in range(20)))
    assert results.count(True) == 1
    assert (await store.get(Key("ORDER#2", "METADATA")))["writer"] == results.index(True)


async def test_versioned_put_does_not_write_over_an_expired_item(store):
    await store.put(item("OLD", "V", version=1, expiresAt=now_epoch() - 1))
    assert not await store.put(item("OLD", "V", version=2), if_version=1)


async def test_conflicting_conditions_are_refused(store):
    with pytest.raises(ValueError):
        await store.put(item("X", "Y", version=1), if_absent=True, if_version=0)


async def test_an_item_without_a_version_counts_as_version_zero(store):
    await store.put(item("USER#legacy", "PROFILE", email="old@example.com"))
    assert await store.put(item("USER#legacy", "PROFILE", email="new@example.com", version=1), if_version=0)
    assert not await store.put(item("USER#legacy", "PROFILE", version=1), if_version=0)
    assert not await store.put(item("USER#nobody", "PROFILE", version=1), if_version=0)
    assert await store.get(Key("USER#nobody", "PROFILE")) is None


async def test_counters_add_atomically_and_make_the_item(store):
    key = Key("RATE#203.0.113.9", "WINDOW#123")
    expires = now_epoch() + 60
    results = await asyncio.gather(*(store.add(key, "count", 1, expires_at=expires) for _ in range(40)))
    assert sorted(results) == list(range(1, 41))
    counter = await store.get(key)
    assert counter["count"] == 40 and counter["expiresAt"] == expires
    assert await store.add(key, "count", 5, expires_at=expires + 999) == 45
    assert (await store.get(key))["expiresAt"] == expires  # set once
    with pytest.raises(ValueError):
        await store.add(key, "PK", 1, expires_at=expires)


# ---- transactions (store/transact.py): all or nothing, on both engines ----------------

def stock(sku: str, on_hand: int) -> dict:
    return item(f"T#{sku}", "STOCK", onHand=on_hand, reserved=0, available=on_hand, version=0)


def take(sku: str, quantity: int, start: int | None = 5):
    from store.transact import Adjust

    return Adjust(Key(f"T#{sku}", "STOCK"), {"reserved": quantity, "available": -quantity, "version": 1},
                  at_least={"available": 0}, start=stock(sku, start) if start is not None else None)


async def test_a_transaction_writes_everything_and_seeds_missing_counters(store):
    from store.transact import Delete, Put

    await store.put(item("T", "GONE"))
    refused = await store.transact([take("A", 2), take("B", 5), Put(item("T", "RES", state="reserved"),
                                                                  if_absent=True), Delete(Key("T", "GONE"))])
    assert refused is None
    a, b = await store.get(Key("T#A", "STOCK")), await store.get(Key("T#B", "STOCK"))
    assert (a["onHand"], a["reserved"], a["available"], a["version"], a["entity"]) == (5, 2, 3, 1, "Test")
    assert (b["reserved"], b["available"]) == (5, 0)
    assert (await store.get(Key("T", "RES")))["state"] == "reserved"
    assert await store.get(Key("T", "GONE")) is None
    assert await store.transact([take("A", 3)]) is None
    assert (await store.get(Key("T#A", "STOCK")))["available"] == 0


async def test_a_refused_transaction_writes_nothing_and_names_the_first_failure(store):
    from store.transact import Put

    await store.transact([take("C", 4)])  # C: 1 left
    before = await store.get(Key("T#C", "STOCK"))
    refused = await store.transact([take("D", 1), Put(item("T", "R2")), take("C", 2), take("E", 9)])
    assert refused is not None and refused.index == 2
    assert refused.item == before  # as it stood: what is left can be said
    assert await store.get(Key("T#D", "STOCK")) is None and await store.get(Key("T", "R2")) is None
    assert await store.get(Key("T#C", "STOCK")) == before
    # a missing item whose start does not meet its guard, or that must exist
    assert (await store.transact([take("F", 6)])).index == 0
    missing = await store.transact([take("G", 1, start=None)])
    assert missing is not None and missing.item is None
    assert await store.get(Key("T#F", "STOCK")) is None and await store.get(Key("T#G", "STOCK")) is None


async def test_transaction_puts_keep_their_conditions(store):
    from store.transact import Put

    await store.put(item("T", "V", version=3))
    assert (await store.transact([Put(item("T", "V", version=4), if_version=2)])).index == 0
    assert (await store.transact([Put(item("T", "V"), if_absent=True)])).item["version"] == 3
    assert await store.transact([Put(item("T", "V", version=4), if_version=3)]) is None
    await store.put(item("T", "OLD", expiresAt=now_epoch() - 5))
    assert await store.transact([Put(item("T", "OLD", fresh=True), if_absent=True)]) is None
    assert (await store.get(Key("T", "OLD")))["fresh"] is True


async def test_of_many_concurrent_transactions_for_the_last_units_exactly_the_stock_wins(store):
    """Three units, 30 transactions each taking one of X and one of Y (Y has plenty):
    exactly three win, on both engines, with contention retried, never oversold."""
    results = await asyncio.gather(*(store.transact([take("X", 1, start=3), take("Y", 1, start=100)])
                                     for _ in range(30)))
    assert sum(r is None for r in results) == 3
    assert {r.index for r in results if r is not None} == {0}
    x, y = await store.get(Key("T#X", "STOCK")), await store.get(Key("T#Y", "STOCK"))
    assert (x["reserved"], x["available"], y["reserved"]) == (3, 0, 3)


@pytest.mark.parametrize("ops", [
    [],
    "twice",
    "too many",
    "float",
    "expiring start",
])
async def test_bad_transactions_are_refused_before_anything_is_sent(store, ops):
    from store.transact import Adjust, Put

    if ops == "twice":
        ops = [take("Z", 1), take("Z", 1)]
    elif ops == "too many":
        ops = [Put(item("T", f"N{n}")) for n in range(101)]
    elif ops == "float":
        ops = [Put(item("T", "F", amount=1.5))]
    elif ops == "expiring start":
        ops = [Adjust(Key("T", "E"), {"n": 1}, start=item("T", "E", expiresAt=now_epoch() + 60))]
    with pytest.raises((ValueError, TypeError)):
        await store.transact(ops)
    assert await store.get(Key("T#Z", "STOCK")) is None and await store.get(Key("T", "N0")) is None

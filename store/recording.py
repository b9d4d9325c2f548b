"""A store that records what one execution read, so the same reads can be made again and
their answers compared (the trusted documents' fast path, web/fastpath.py).

Each read is kept as its call (operation and arguments) and the answer's bytes (canonical
JSON): replaying the reads in order and finding every answer equal means an execution that
depends only on its inputs and these reads would produce the same result. Any write through
it is noted: an execution that writes is not memoized. Index queries, counts and scans (the
shop's listings and migrations) are not recorded for replay: they count as writes do, so an
execution that makes them is not memoized either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import orjson

from store.base import Having, IndexPage, Item, Page, Store
from store.keys import EXPIRES_AT, Index, Key
from store.transact import Op, Refused

ReadOperation = Literal["get", "batch_get", "query"]


@dataclass(frozen=True, slots=True)
class Read:
    """One read and its answer: `get` (key), `batch_get` (keys) or `query` (pk, prefix, limit,
    cursor, newest_first)."""

    operation: ReadOperation
    arguments: tuple
    answer: bytes  # canonical JSON of what the store answered

    @property
    def size(self) -> int:
        return len(self.answer) + 64 * len(self.arguments)


def _canonical(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _batch_answer(keys: Sequence[Key], found: dict[Key, Item]) -> bytes:
    return _canonical([found.get(key) for key in keys])


def _page_answer(page: Page) -> bytes:
    return _canonical([page.items, page.cursor])


class RecordingStore:
    """Passes every call to `inner`; remembers the reads, in order, whether any write ran,
    and when the first item it read expires (`fresh_until`, epoch seconds: an expiring item
    changes a read's answer with no write, so no change stamp would see it)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.reads: list[Read] = []
        self.wrote = False
        self.fresh_until: float = float("inf")

    def _saw(self, items: Sequence[Item | None]) -> None:
        for item in items:
            expires = item.get(EXPIRES_AT) if item is not None else None
            if isinstance(expires, (int, float)) and expires < self.fresh_until:
                self.fresh_until = expires

    async def get(self, key: Key) -> Item | None:
        item = await self.inner.get(key)
        self._saw((item,))
        self.reads.append(Read("get", (key,), _canonical(item)))
        return item

    async def batch_get(self, keys: Sequence[Key]) -> dict[Key, Item]:
        asked = tuple(keys)
        found = await self.inner.batch_get(asked)
        self._saw(list(found.values()))
        self.reads.append(Read("batch_get", (asked,), _batch_answer(asked, found)))
        return found

    async def query(self, pk: str, *, prefix: str = "", limit: int = 20, cursor: str | None = None,
                    newest_first: bool = True) -> Page:
        page = await self.inner.query(pk, prefix=prefix, limit=limit, cursor=cursor, newest_first=newest_first)
        self._saw(page.items)
        self.reads.append(Read("query", (pk, prefix, limit, cursor, newest_first), _page_answer(page)))
        return page

    async def put(self, item: Item, *, if_absent: bool = False, if_version: int | None = None) -> bool:
        self.wrote = True
        return await self.inner.put(item, if_absent=if_absent, if_version=if_version)

    async def add(self, key: Key, attribute: str, amount: int, *, expires_at: int) -> int:
        self.wrote = True
        return await self.inner.add(key, attribute, amount, expires_at=expires_at)

    async def delete(self, key: Key) -> None:
        self.wrote = True
        await self.inner.delete(key)

    async def transact(self, ops: Sequence[Op]) -> Refused | None:
        self.wrote = True
        return await self.inner.transact(ops)

    async def query_index(self, index: Index, partition: str, *, below: str | None = None,
                          at_least: str | None = None, limit: int = 20,
                          having: Having | None = None) -> IndexPage:
        self.wrote = True  # not replayed: never memoized
        return await self.inner.query_index(index, partition, below=below, at_least=at_least, limit=limit,
                                            having=having)

    async def count_index(self, index: Index, partition: str, *, below: str | None = None,
                          at_least: str | None = None, having: Having | None = None) -> int:
        self.wrote = True  # not replayed: never memoized
        return await self.inner.count_index(index, partition, below=below, at_least=at_least, having=having)

    async def scan(self, *, limit: int = 100, cursor: str | None = None) -> Page:
        self.wrote = True  # not replayed: never memoized
        return await self.inner.scan(limit=limit, cursor=cursor)

    async def ping(self) -> None:
        await self.inner.ping()

    def change_stamp(self) -> int | None:
        return self.inner.change_stamp()

    async def close(self) -> None:
        await self.inner.close()


async def answers_unchanged(store: Store, reads: Sequence[Read]) -> bool:
    """Make the same reads again (the same calls, as many); True when every answer equals
    the recorded one. They run at once: each is compared on its own, so their order does
    not matter, and on DynamoDB the wait is one round trip, not one per read."""
    if len(reads) == 1:
        return await _answer(store, reads[0]) == reads[0].answer
    answers = await asyncio.gather(*(_answer(store, read) for read in reads))
    return all(answer == read.answer for answer, read in zip(answers, reads, strict=True))


async def _answer(store: Store, read: Read) -> bytes:
    if read.operation == "get":
        return _canonical(await store.get(read.arguments[0]))
    if read.operation == "batch_get":
        asked = read.arguments[0]
        return _batch_answer(asked, await store.batch_get(asked))
    pk, prefix, limit, cursor, newest_first = read.arguments
    return _page_answer(await store.query(pk, prefix=prefix, limit=limit, cursor=cursor,
                                          newest_first=newest_first))

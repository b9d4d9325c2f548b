"""A store that counts its calls: per process (metrics) and per request (logs, and the
tests' call-count budgets, as Saleor's count_queries does for SQL)."""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Sequence

from store.base import Having, IndexPage, Item, Page, Store
from store.keys import Index, Key
from store.transact import Op, Refused

_request_calls: contextvars.ContextVar[Counter | None] = contextvars.ContextVar(
    "store_calls", default=None)


def start_counting() -> Counter:
    """Count this task's (request's) store calls from now on; returns the live counter."""
    counter: Counter = Counter()
    _request_calls.set(counter)
    return counter


class MeteredStore:
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: Counter = Counter()

    def _count(self, operation: str) -> None:
        self.calls[operation] += 1
        request = _request_calls.get()
        if request is not None:
            request[operation] += 1

    async def get(self, key: Key) -> Item | None:
        self._count("get")
        return await self.inner.get(key)

    async def batch_get(self, keys: Sequence[Key]) -> dict[Key, Item]:
        self._count("batch_get")
        return await self.inner.batch_get(keys)

    async def put(self, item: Item, *, if_absent: bool = False, if_version: int | None = None) -> bool:
        self._count("put")
        return await self.inner.put(item, if_absent=if_absent, if_version=if_version)

    async def add(self, key: Key, attribute: str, amount: int, *, expires_at: int) -> int:
        self._count("add")
        return await self.inner.add(key, attribute, amount, expires_at=expires_at)

    async def transact(self, ops: Sequence[Op]) -> Refused | None:
        self._count("transact")
        return await self.inner.transact(ops)

    async def delete(self, key: Key) -> None:
        self._count("delete")
        await self.inner.delete(key)

    async def query(self, pk: str, *, prefix: str = "", limit: int = 20, cursor: str | None = None,
                    newest_first: bool = True) -> Page:
        self._count("query")
        return await self.inner.query(pk, prefix=prefix, limit=limit, cursor=cursor,
                                      newest_first=newest_first)

    async def query_index(self, index: Index, partition: str, *, below: str | None = None,
                          at_least: str | None = None, limit: int = 20,
                          having: Having | None = None) -> IndexPage:
        self._count("query_index")
        return await self.inner.query_index(index, partition, below=below, at_least=at_least, limit=limit,
                                            having=having)

    async def count_index(self, index: Index, partition: str, *, below: str | None = None,
                          at_least: str | None = None, having: Having | None = None) -> int:
        self._count("count_index")
        return await self.inner.count_index(index, partition, below=below, at_least=at_least, having=having)

    async def scan(self, *, limit: int = 100, cursor: str | None = None) -> Page:
        self._count("scan")
        return await self.inner.scan(limit=limit, cursor=cursor)

    async def ping(self) -> None:
        await self.inner.ping()

    def change_stamp(self) -> int | None:
        return self.inner.change_stamp()  # not a store call: not counted

    async def close(self) -> None:
        await self.inner.close()

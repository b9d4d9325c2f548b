"""aiodataloader loaders: a fresh set per request (no cache shared between requests),
store first, Stripe on a miss. Keys are de-duplicated; store reads are batched."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aiodataloader import DataLoader

from commerce.orders import order_from_session
from commerce.payments import Payments
from store import Page, Store, keys

MAX_BATCH = 100


class ProfileByUserLoader(DataLoader):
    def __init__(self, store: Store) -> None:
        super().__init__(max_batch_size=MAX_BATCH)
        self.store = store

    async def batch_load_fn(self, user_ids: list[str]) -> list[dict[str, Any] | None]:
        wanted = [keys.profile(u) for u in user_ids]
        found = await self.store.batch_get(wanted)
        return [found.get(k) for k in wanted]


class OrderByIdLoader(DataLoader):
    """Orders by id (the Stripe session id). Misses fall back to Stripe concurrently and
    are recorded through the one order function; the caller checks ownership."""

    def __init__(self, store: Store, payments: Payments) -> None:
        super().__init__(max_batch_size=MAX_BATCH)
        self.store = store
        self.payments = payments

    async def batch_load_fn(self, order_ids: list[str]) -> list[dict[str, Any] | None]:
        wanted = [keys.order_pointer(i) for i in order_ids]
        found = await self.store.batch_get(wanted)
        missing = [i for i, k in zip(order_ids, wanted) if k not in found]
        fetched = await asyncio.gather(*(
            order_from_session(self.store, self.payments, i) for i in missing))
        recovered = dict(zip(missing, fetched))
        return [found.get(k) or recovered.get(i) for i, k in zip(order_ids, wanted)]


@dataclass(frozen=True, slots=True)
class PageKey:
    user_id: str
    first: int
    after: str | None  # the store's cursor (already checked by the resolver)


class OrderPageByUserLoader(DataLoader):
    def __init__(self, store: Store) -> None:
        super().__init__(max_batch_size=MAX_BATCH)
        self.store = store

    async def batch_load_fn(self, page_keys: list[PageKey]) -> list[Page]:
        # One partition query each: DynamoDB has no batched query.
        return list(await asyncio.gather(*(
            self.store.query(keys.user_partition(k.user_id), prefix=keys.ORDER_PREFIX,
                             limit=k.first, cursor=k.after) for k in page_keys)))


class Loaders:
    """Made for every request, built on first use: most requests need one loader or none."""

    def __init__(self, store: Store, payments: Payments) -> None:
        self.store = store
        self.payments = payments

    @cached_property
    def profile_by_user(self) -> ProfileByUserLoader:
        return ProfileByUserLoader(self.store)

    @cached_property
    def order_by_id(self) -> OrderByIdLoader:
        return OrderByIdLoader(self.store, self.payments)

    @cached_property
    def order_page_by_user(self) -> OrderPageByUserLoader:
        return OrderPageByUserLoader(self.store)

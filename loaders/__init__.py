"""aiodataloader loaders: a fresh set per request (no cache shared between requests),
store only (the resolvers decide when Stripe may be asked). Keys are de-duplicated;
store reads are batched. They hand back records (store/records), never items; an order
item that cannot be read is logged, counted and handed back as None."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property

from aiodataloader import DataLoader

from payments import Payments
from store import Store, keys
from store.base import encode_cursor
from store.records import CheckoutRecord, Order, Profile, guest_order_count, readable, record_of
from store.records.stock import StockRecord

MAX_BATCH = 100


@dataclass(frozen=True, slots=True)
class ProfileKey:
    user_id: str
    verified_email: str | None = None  # also read the count of guest orders under it


class ProfileByUserLoader(DataLoader):
    """Profiles, each with the count of guest orders filed under the shopper's verified email
    (GUEST#{email} / UNCLAIMED), in one batch read: the claim runs only when it grew."""

    def __init__(self, store: Store) -> None:
        super().__init__(max_batch_size=MAX_BATCH // 2)
        self.store = store

    async def batch_load_fn(self, wanted: list[ProfileKey]) -> list[tuple[Profile | None, int]]:
        pairs = [(keys.profile(w.user_id), keys.guest_unclaimed(w.verified_email) if w.verified_email else None)
                 for w in wanted]
        found = await self.store.batch_get([k for pair in pairs for k in pair if k is not None])
        return [(record_of(found, profile, Profile), guest_order_count(found.get(counter)) if counter else 0)
                for profile, counter in pairs]


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """What the store holds for an order id: the order (None when missing or unreadable),
    whether an item is there at all, and the gateway's record of the session."""
    order: Order | None
    stored: bool
    record: CheckoutRecord | None


class OrderByIdLoader(DataLoader):
    """Orders by id (the Stripe session id), each with the gateway's record of the session
    (SESSION#{id}), in one batch read. Never calls Stripe: the resolver decides whether a
    missing order may be fetched (only for a session this gateway made for the viewer,
    within the request's Stripe budget), and checks ownership."""

    def __init__(self, store: Store) -> None:
        super().__init__(max_batch_size=MAX_BATCH // 2)
        self.store = store

    async def batch_load_fn(self, order_ids: list[str]) -> list[StoredOrder]:
        wanted = [(keys.order_pointer(i), keys.session_pointer(i)) for i in order_ids]
        found = await self.store.batch_get([k for pair in wanted for k in pair])
        return [StoredOrder(readable(item) if (item := found.get(order)) is not None else None, item is not None,
                            record_of(found, record, CheckoutRecord)) for order, record in wanted]


@dataclass(frozen=True, slots=True)
class PageKey:
    user_id: str
    first: int
    after: str | None  # the store's cursor (already checked by the resolver)


@dataclass(frozen=True, slots=True)
class ListedOrders:
    """A page of a user's order list, newest first: each listed order (None for an item that
    cannot be read) with the store's cursor that continues after it."""
    orders: list[Order | None]
    cursors: list[str]
    cursor: str | None  # after the whole page; None when there is nothing more


class OrderPageByUserLoader(DataLoader):
    def __init__(self, store: Store) -> None:
        super().__init__(max_batch_size=MAX_BATCH)
        self.store = store

    async def batch_load_fn(self, page_keys: list[PageKey]) -> list[ListedOrders]:
        # One partition query each: DynamoDB has no batched query.
        pages = await asyncio.gather(*(
            self.store.query(keys.user_partition(k.user_id), prefix=keys.ORDER_PREFIX,
                             limit=k.first, cursor=k.after) for k in page_keys))
        return [ListedOrders([readable(item) for item in page.items],
                             [encode_cursor(keys.key_of(item).sk) for item in page.items], page.cursor)
                for page in pages]


class StockBySkuLoader(DataLoader):
    """Pieces' stock records (None: the store has none yet), in one batch read per request."""

    def __init__(self, store: Store) -> None:
        super().__init__(max_batch_size=MAX_BATCH)
        self.store = store

    async def batch_load_fn(self, skus: list[str]) -> list[StockRecord | None]:
        found = await self.store.batch_get([keys.stock(sku) for sku in skus])
        return [record_of(found, keys.stock(sku), StockRecord) for sku in skus]


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
        return OrderByIdLoader(self.store)

    @cached_property
    def order_page_by_user(self) -> OrderPageByUserLoader:
        return OrderPageByUserLoader(self.store)

    @cached_property
    def stock_by_sku(self) -> StockBySkuLoader:
        return StockBySkuLoader(self.store)

"""Records in and out of a store. The store's interface stays item-based underneath
(both engines, one contract suite); these helpers are what the layers above use, so they
see records, never items."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from store.base import MAX_VERSION_RETRIES, Conflict, Store, now_epoch
from store.keys import VERSION, Key


class Record(Protocol):
    @property
    def key(self) -> Key: ...

    def to_item(self) -> dict[str, Any]: ...


R = TypeVar("R")
V = TypeVar("V", bound=Any)  # a record with `version` and `updated_at` (Order, Profile)


class Kind(Protocol[R]):  # type: ignore[misc]
    def from_item(self, item: Mapping[str, Any]) -> R: ...


async def get_record(store: Store, kind: Kind[R], key: Key) -> R | None:
    item = await store.get(key)
    return kind.from_item(item) if item is not None else None


def record_of(found: Mapping[Key, Mapping[str, Any]], key: Key, kind: Kind[R]) -> R | None:
    """One record out of a batch read."""
    item = found.get(key)
    return kind.from_item(item) if item is not None else None


async def put_record(store: Store, record: Record, *, if_absent: bool = False,
                     if_version: int | None = None) -> bool:
    return await store.put(record.to_item(), if_absent=if_absent, if_version=if_version)


async def update_record(store: Store, record: V, change: Callable[[V], V | None]) -> V:
    """Optimistic read-modify-write of a versioned record: `change` returns the new record
    (or None: nothing to do); it is written over the version it was made from, re-read and
    redone on conflict, after a jittered pause that grows (writers that collide once do not
    collide again in step). Stamps `updated_at` (epoch seconds) and the next version."""
    kind = type(record)
    for attempt in range(MAX_VERSION_RETRIES):
        changed = change(record)
        if changed is None:
            return record
        updated = replace(changed, updated_at=now_epoch(), version=record.version + 1)
        if await store.put(updated.to_item(), if_version=record.version):
            return updated
        await asyncio.sleep(random.uniform(0, min(0.25, 0.005 * 2 ** attempt)))
        fresh = await store.get(record.key)
        if fresh is None:
            raise LookupError(f"{record.key.pk} / {record.key.sk} vanished during an update")
        record = kind.from_item(fresh)
    raise Conflict(f"{record.key.pk} / {record.key.sk} kept changing under {MAX_VERSION_RETRIES} updates")


async def version_at(store: Store, key: Key) -> int | None:
    """The version of the item at `key` (0: written before versioning), None when there is none."""
    item = await store.get(key)
    if item is None:
        return None
    version = item.get(VERSION, 0)
    return version if isinstance(version, int) and not isinstance(version, bool) else 0

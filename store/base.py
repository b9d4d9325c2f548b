"""The store interface both engines implement, and the pieces they share.

Items are plain dicts with string ``PK`` / ``SK`` and JSON-like values: str, int,
bool, None, lists and dicts of those. Floats are refused (money is integers).
What one engine cannot promise, the interface does not offer.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from store.keys import EXPIRES_AT, Index, Key

if TYPE_CHECKING:
    from store.transact import Op, Refused

Item = dict[str, Any]
BATCH_GET_LIMIT = 100


class StoreError(Exception):
    """The store could not do what was asked (unreachable, throttled past retries...)."""


class StoreConfigError(StoreError):
    """The store cannot work as configured; the message names the variable and the fix."""


class TableMissing(StoreConfigError):
    """The DynamoDB table named by COMMERCE_TABLE does not exist (in this region)."""


class BadCursor(ValueError):
    """A query cursor that this store did not hand out for this query."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Item]
    cursor: str | None  # pass back to continue; None when there is nothing more


@dataclass(frozen=True, slots=True)
class IndexEntry:
    key: Key  # the item's primary key (batch_get it for the item)
    sort: str  # its sort value in the index


@dataclass(frozen=True, slots=True)
class IndexPage:
    entries: list[IndexEntry]  # those that passed `having`, by sort value, descending
    last_seen: str | None  # the lowest sort value read when `limit` entries were read (more
    #                        may follow below it); None when the range is exhausted


Having = tuple[str, frozenset[str]]  # an attribute the index projects, and the values kept


class Store(Protocol):
    async def get(self, key: Key) -> Item | None:
        """The item, or None when it is missing or expired."""

    async def batch_get(self, keys: Sequence[Key]) -> dict[Key, Item]:
        """Found, unexpired items by key; any number of keys, duplicates allowed."""

    async def put(self, item: Item, *, if_absent: bool = False, if_version: int | None = None) -> bool:
        """Write the item. With if_absent, only when no live item holds its key; with
        if_version, only over a live item whose `version` is that number (the caller sets
        the new item's version). Returns False, having written nothing, when the condition
        fails. An item without a version (written before versioning, e.g. by the system
        we replace) counts as version 0."""

    async def delete(self, key: Key) -> None: ...

    async def transact(self, ops: Sequence[Op]) -> Refused | None:
        """Every operation (store/transact.py: Put, Adjust, Delete, each on its own item,
        at most 100) written together, or none: then Refused names the first whose
        condition did not hold, with its item as it stood."""

    async def add(self, key: Key, attribute: str, amount: int, *, expires_at: int) -> int:
        """Atomically add to an integer attribute (a counter), making the item if it is
        missing, and return the new value. The item expires at expires_at (set once)."""

    async def query(
        self, pk: str, *, prefix: str = "", limit: int = 20, cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page:
        """Items in one partition whose SK starts with prefix, by SK (descending when
        newest_first), at most limit of them, continuing after cursor."""

    async def query_index(
        self, index: Index, partition: str, *, below: str | None = None, at_least: str | None = None,
        limit: int = 20, having: Having | None = None,
    ) -> IndexPage:
        """Read the next `limit` entries of one index partition whose sort value is in
        [at_least, below), descending, keeping those whose `having` attribute is one of its
        values (read, then dropped: the cost is `limit` entries whatever passes). Sort values
        must be unique within a partition, so a sort value is a position. On DynamoDB an
        index is eventually consistent (usually well under a second behind)."""

    async def count_index(
        self, index: Index, partition: str, *, below: str | None = None, at_least: str | None = None,
        having: Having | None = None,
    ) -> int:
        """How many entries query_index would give over the whole range. O(entries):
        DynamoDB reads them (Select=COUNT, 1 MB of index entries a call, about 8,000 of the
        order indexes' small entries); SQLite counts its index."""

    async def scan(self, *, limit: int = 100, cursor: str | None = None) -> Page:
        """Every live item, a page at a time, in no useful order: for migrations
        (`gateway index-orders`), never for serving a request."""

    async def ping(self) -> None:
        """Raise StoreError unless the store answers."""

    def change_stamp(self) -> int | None:
        """A number that moves whenever anything is committed to the store, by this process
        or any other, read without a store call; None when the engine has none (DynamoDB).
        The fast path (web/fastpath.py) serves a kept answer while it has not moved."""

    async def close(self) -> None: ...


MAX_VERSION_RETRIES = 16


class Conflict(StoreError):
    """An item kept changing under every retry: worth trying again a little later."""


def now_epoch() -> int:
    return int(time.time())


def is_expired(item: Item, now: int) -> bool:
    expires = item.get(EXPIRES_AT)
    return isinstance(expires, int) and not isinstance(expires, bool) and expires <= now


def check_put(item: Item, if_absent: bool, if_version: int | None) -> None:
    if if_absent and if_version is not None:
        raise ValueError("if_absent and if_version exclude each other")
    if if_version is not None and (isinstance(if_version, bool) or not isinstance(if_version, int)):
        raise TypeError("if_version must be an int")
    check_item(item)


def check_attribute(name: str) -> None:
    if not name.isidentifier() or name in ("PK", "SK", EXPIRES_AT):
        raise ValueError(f"{name!r} cannot be a counter")


def check_item(item: Item) -> None:
    """Refuse what neither engine can store faithfully, before any write."""
    for name in ("PK", "SK"):
        value = item.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"item {name} must be a non-empty string")
    _check_value(item, "item")


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise TypeError(f"{where}: floats are not stored (use integers in minor units)")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be strings")
            _check_value(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_value(v, f"{where}[{i}]")
    elif value is not None and not isinstance(value, (str, int, bool)):
        raise TypeError(f"{where}: {type(value).__name__} is not storable")


def check_limit(limit: int) -> None:
    if not 1 <= limit <= 1000:
        raise ValueError("limit must be between 1 and 1000")


def encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": sk})).decode().rstrip("=")


def decode_cursor(cursor: str, prefix: str) -> str:
    """The SK a cursor continues after; BadCursor for anything we did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sk = orjson.loads(raw)["k"]
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if not isinstance(sk, str) or not sk.startswith(prefix):
        raise BadCursor("cursor is not valid for this query")
    return sk


def check_having(index: Index, having: Having | None) -> None:
    if having is not None and having[0] not in index.included:
        raise ValueError(f"{index.name} does not project {having[0]!r}")
    if having is not None and not 1 <= len(having[1]) <= 100:
        raise ValueError("having needs 1 to 100 values")


def encode_scan_cursor(key: Key) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([key.pk, key.sk])).decode().rstrip("=")


def decode_scan_cursor(cursor: str) -> Key:
    try:
        pk, sk = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if not isinstance(pk, str) or not isinstance(sk, str):
        raise BadCursor("cursor is not valid")
    return Key(pk, sk)


def unique_keys(keys: Sequence[Key]) -> list[Key]:
    return list(dict.fromkeys(keys))

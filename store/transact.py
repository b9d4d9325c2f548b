"""Transactions: several conditional writes that happen together or not at all.

    Put(item, if_absent=..., if_version=...)   as Store.put, its condition part of the whole
    Adjust(key, add, at_least, start)          add to integer attributes (counters) of one item,
                                               each guarded: its value after the change must be
                                               at least `at_least[name]`; a missing item starts
                                               as `start` (None: it must exist)
    Delete(key)                                unconditional

`Store.transact(ops)` writes every operation, or none of them and returns `Refused`
naming the first operation whose condition did not hold, with that item as it stood
(so a caller can say what was left). DynamoDB does it with one TransactWriteItems,
SQLite in one BEGIN IMMEDIATE transaction; both take at most `TRANSACT_LIMIT` operations,
each on a different item. Adjusted items never expire (the interface refuses a `start`
with an expiry): a counter that TTL could remove is not one to guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from store.base import Item, check_attribute, check_item, check_put, is_expired
from store.keys import EXPIRES_AT, PK, SK, VERSION, Key, key_of

TRANSACT_LIMIT = 100  # DynamoDB's TransactWriteItems limit


@dataclass(frozen=True, slots=True)
class Put:
    item: Item
    if_absent: bool = False
    if_version: int | None = None

    @property
    def key(self) -> Key:
        return key_of(self.item)


@dataclass(frozen=True, slots=True)
class Adjust:
    key: Key
    add: Mapping[str, int]
    at_least: Mapping[str, int] = field(default_factory=dict)
    start: Item | None = None  # the item when missing (counters from it, else 0); None: must exist


@dataclass(frozen=True, slots=True)
class Delete:
    key: Key


Op = Put | Adjust | Delete


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was written: `ops[index]`'s condition did not hold; `item` is that item as it
    stood (None when missing)."""
    index: int
    item: Item | None


def _int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_transaction(ops: Sequence[Op]) -> None:
    """Refuse, before anything is sent, what either engine would refuse or do differently."""
    if not 1 <= len(ops) <= TRANSACT_LIMIT:
        raise ValueError(f"a transaction has 1 to {TRANSACT_LIMIT} operations")
    seen: set[Key] = set()
    for op in ops:
        key = op.key
        if key in seen:
            raise ValueError(f"{key.pk} / {key.sk} appears twice in one transaction")
        seen.add(key)
        if isinstance(op, Put):
            check_put(op.item, op.if_absent, op.if_version)
        elif isinstance(op, Adjust):
            _check_adjust(op)


def _check_adjust(op: Adjust) -> None:
    if not op.add:
        raise ValueError("an Adjust adds to at least one attribute")
    for name, amount in (*op.add.items(), *op.at_least.items()):
        check_attribute(name)
        if not _int(amount):
            raise TypeError(f"{name}: amounts and bounds are ints")
    if op.start is not None:
        check_item(op.start)
        if key_of(op.start) != op.key:
            raise ValueError("an Adjust's start item has the Adjust's key")
        if EXPIRES_AT in op.start:
            raise ValueError("adjusted items never expire")
        for name in op.add:
            if name in op.start and not _int(op.start[name]):
                raise TypeError(f"start {name} must be an int")


def starts_valid(op: Adjust) -> bool:
    """Whether a missing item may be made from `start`: its guards hold after the change."""
    if op.start is None:
        return False
    return all(op.start.get(name, 0) + op.add.get(name, 0) >= bound for name, bound in op.at_least.items())


def apply_op(op: Op, current: Item | None, now: int) -> Item | Refused | None:
    """The item after `op` (None: deleted), or Refused(-1, current) when its condition fails.
    Shared by engines that evaluate conditions themselves (SQLite); DynamoDB evaluates the
    same rules in its expressions (store/dynamodb_transact.py)."""
    live = current if current is not None and not is_expired(current, now) else None
    if isinstance(op, Delete):
        return None
    if isinstance(op, Put):
        if op.if_absent and live is not None:
            return Refused(-1, live)
        if op.if_version is not None:
            version = live.get(VERSION, 0) if live is not None else None
            if live is None or (version if _int(version) else 0) != op.if_version:
                return Refused(-1, live)
        return op.item
    if current is None:  # an adjusted item never expires: expiry is not looked at
        if not starts_valid(op):
            return Refused(-1, None)
        base = dict(op.start or {})
    else:
        base = dict(current)
    for name, bound in op.at_least.items():
        value = base.get(name) if current is not None else base.get(name, 0)
        if not _int(value) or value + op.add.get(name, 0) < bound:
            return Refused(-1, current)
    for name, amount in op.add.items():
        value = base.get(name, (op.start or {}).get(name, 0))
        if not _int(value):
            return Refused(-1, current)
        base[name] = value + amount
    base[PK], base[SK] = op.key.pk, op.key.sk
    return base

"""Stock: how many of each piece the shop holds, and checkouts' holds on it.

A piece the catalog file gives a `stock` is counted (STOCK#{sku}: on hand, reserved,
available = on hand - reserved, sold); one without is unlimited. A bundle takes its
parts. The catalog's number seeds the count the first time the store touches it (the
first checkout or setStock); after that the store wins: changing the file's number
changes nothing for a piece already counted (setStock does), and removing `stock` makes
the piece unlimited again (its record is kept, unread).

A checkout reserves every piece of its quote in one transaction, conditional on enough
being available (all or none: `reserve`); the hold (a Reservation, one per checkout
attempt) moves exactly once, in a transaction with the counters:

    reserved -> sold       the order is paid (`sell`): reserved and on hand go down
             -> released   the session expired, its delayed payment failed, or it was
                           never made (`release`): available goes back up
             -> short      paid, but on hand fell below the hold (a stock change): released,
                           and the order flagged OUT_OF_STOCK
    released -> sold       paid late (expired first): taken from what is available now
             -> short      paid late with none available: flagged, never oversold

Conditions make every move safe to repeat and to race: a second `sell` or `release` of
the same hold finds its state moved and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from commerce.catalog import Catalog
from commerce.pricing import PricedLine
from store import Store, keys
from store.base import MAX_VERSION_RETRIES
from store.records import get_record
from store.records.stock import (
    AVAILABLE,
    ON_HAND,
    RESERVED,
    SOLD,
    OpenReservation,
    Reservation,
    StockRecord,
)
from store.transact import TRANSACT_LIMIT, Adjust, Delete, Op, Put
from telemetry.metrics import log_line

log = logging.getLogger("gateway.stock")
VERSION = keys.VERSION


@dataclass(frozen=True, slots=True)
class Shortage:
    """Not enough of a piece for a checkout: nothing was reserved."""
    sku: str
    name: str
    left: int
    wanted: int

    @property
    def message(self) -> str:
        if self.wanted == 0:
            return (f"This cart holds more different pieces than one checkout can reserve "
                    f"(at most {TRANSACT_LIMIT - 2}); split the order.")
        if self.left <= 0:
            return f"{self.name} ({self.sku}) is sold out."
        return f"Only {self.left} of {self.name} ({self.sku}) left; this cart needs {self.wanted}."


def pieces_of(catalog: Catalog, lines: Iterable[PricedLine]) -> tuple[tuple[str, int], ...]:
    """The counted pieces a quote takes, bundles as their parts, each SKU once."""
    units: dict[str, int] = {}
    for line in lines:
        if catalog.get(line.sku) is None:
            continue  # a SKU the catalog no longer has: nothing of it is counted
        for sku, count in catalog.stock_units(line.sku, line.quantity):
            units[sku] = units.get(sku, 0) + count
    return tuple(sorted(units.items()))


def _seed(catalog: Catalog, sku: str) -> StockRecord:
    product = catalog.get(sku)
    return StockRecord.seed(sku, product.stock if product is not None and product.stock is not None else 0)


async def stock_levels(store: Store, catalog: Catalog, skus: Iterable[str]) -> dict[str, StockRecord]:
    """The counted pieces' records (as the catalog seeds them when the store has none), in
    one batch read; pieces not counted are left out."""
    tracked = sorted({sku for sku in skus if (p := catalog.get(sku)) is not None and p.stock is not None})
    if not tracked:
        return {}
    found = await store.batch_get([keys.stock(sku) for sku in tracked])
    return {sku: StockRecord.from_item(item) if (item := found.get(keys.stock(sku))) else _seed(catalog, sku)
            for sku in tracked}


def levels_of(catalog: Catalog, records: dict[str, StockRecord | None]) -> dict[str, StockRecord]:
    """Records read elsewhere (a loader), the missing ones as the catalog seeds them."""
    return {sku: record or _seed(catalog, sku) for sku, record in records.items()}


def available_of(catalog: Catalog, sku: str, levels: dict[str, StockRecord]) -> int | None:
    """How many of a SKU can be bought now (a bundle: as many as its scarcest part allows);
    None when unlimited."""
    product = catalog.get(sku)
    if product is None:
        return 0
    counts = [max(0, levels[part].available) // per for part, per in (product.bundle_items or ((sku, 1),))
              if part in levels]
    return min(counts) if counts else None


def skus_behind(catalog: Catalog, skus: Iterable[str]) -> set[str]:
    """The pieces whose records say how many of these SKUs are available."""
    wanted: set[str] = set()
    for sku in skus:
        product = catalog.get(sku)
        if product is not None:
            wanted.update(part for part, _ in (product.bundle_items or ((sku, 1),)))
    return wanted


def _take(catalog: Catalog, sku: str, units: int) -> Adjust:
    return Adjust(keys.stock(sku), {RESERVED: units, AVAILABLE: -units, VERSION: 1},
                  at_least={AVAILABLE: 0}, start=_seed(catalog, sku).to_item())


async def reserve(store: Store, catalog: Catalog, lines: Sequence[PricedLine], *, signature: str,
                  generation: int, hold_until: int, held: Sequence[Reservation],
                  now: int) -> Reservation | Shortage | None:
    """Hold every counted piece of a quote's checkout (generation), or nothing: a Shortage
    names the first piece short. None when nothing in it is counted. A hold this
    generation already has (a retry, a racer) is the answer: never reserved twice. After a
    released attempt (its session could not be made) the next attempt holds afresh."""
    pieces = pieces_of(catalog, lines)
    if not pieces:
        return None
    if len(pieces) + 2 > TRANSACT_LIMIT:
        return Shortage(pieces[0][0], "this cart", 0, 0)  # refused by the caller as too big
    mine = sorted((r for r in held if r.generation == generation), key=lambda r: r.attempt)
    attempt = 0
    if mine:
        if mine[-1].state != "released":
            return mine[-1]
        attempt = mine[-1].attempt + 1
    for _ in range(MAX_VERSION_RETRIES):
        hold = Reservation(signature, generation, attempt, pieces, "reserved", hold_until, now)
        ops: list[Op] = [Put(hold.to_item(), if_absent=True), Put(OpenReservation.of(hold).to_item()),
                         *(_take(catalog, sku, units) for sku, units in pieces)]
        refused = await store.transact(ops)
        if refused is None:
            return hold
        if refused.index == 0:  # a racer of this checkout made it first
            assert refused.item is not None
            other = Reservation.from_item(refused.item)
            if other.state != "released":
                return other
            attempt = other.attempt + 1
            continue
        sku, units = pieces[refused.index - 2]
        record = StockRecord.from_item(refused.item) if refused.item else _seed(catalog, sku)
        product = catalog.get(sku)
        return Shortage(sku, product.name if product else sku, record.available, units)
    raise RuntimeError(f"quote {signature}: its hold kept changing")


def _give_back(sku: str, units: int) -> Adjust:
    return Adjust(keys.stock(sku), {RESERVED: -units, AVAILABLE: units, VERSION: 1})


async def release(store: Store, hold: Reservation, *, now: int, why: str) -> Reservation:
    """reserved -> released (the pieces available again); a hold in any other state stays."""
    for _ in range(MAX_VERSION_RETRIES):
        if hold.state != "reserved":
            return hold
        done = replace(hold, state="released", version=hold.version + 1, settled_at=now)
        refused = await store.transact([Put(done.to_item(), if_version=hold.version), Delete(hold.open_key),
                                        *(_give_back(sku, units) for sku, units in hold.pieces)])
        if refused is None:
            log_line("stock_released", reservation=hold.key.sk, quote=hold.signature, why=why,
                     pieces=[[sku, units] for sku, units in hold.pieces])
            return done
        if refused.index != 0 or refused.item is None:
            raise RuntimeError(f"{hold.key.pk} / {hold.key.sk}: a piece's stock record is gone")
        hold = Reservation.from_item(refused.item)
    raise RuntimeError(f"{hold.key.pk} / {hold.key.sk}: kept changing")


async def sell(store: Store, hold: Reservation, *, now: int) -> Reservation:
    """The hold as sold (its pieces leave on hand) or short (none to sell: flag the order)."""
    for _ in range(MAX_VERSION_RETRIES):
        if hold.state in ("sold", "short"):
            return hold
        sold = replace(hold, state="sold", version=hold.version + 1, settled_at=now)
        short = replace(sold, state="short")
        late = hold.state == "released"
        if late:  # paid after its hold was given back: only from what is free now
            sale: list[Op] = [Adjust(keys.stock(sku), {ON_HAND: -units, AVAILABLE: -units, SOLD: units, VERSION: 1},
                                     at_least={AVAILABLE: 0}) for sku, units in hold.pieces]
            instead: list[Op] = [Put(short.to_item(), if_version=hold.version)]
        else:
            sale = [Adjust(keys.stock(sku), {RESERVED: -units, ON_HAND: -units, SOLD: units, VERSION: 1},
                           at_least={ON_HAND: 0}) for sku, units in hold.pieces]
            instead = [Put(short.to_item(), if_version=hold.version), Delete(hold.open_key),
                       *(_give_back(sku, units) for sku, units in hold.pieces)]
        ends = [Put(sold.to_item(), if_version=hold.version)] + ([] if late else [Delete(hold.open_key)])
        refused = await store.transact([*ends, *sale])
        if refused is None:
            if late:
                log.warning("quote %s: paid after its hold was released; sold from free stock", hold.signature)
                log_line("stock_late_sale", reservation=hold.key.sk, quote=hold.signature)
            return sold
        if refused.index == 0:
            if refused.item is None:
                raise RuntimeError(f"{hold.key.pk} / {hold.key.sk} vanished")
            hold = Reservation.from_item(refused.item)
            continue
        if await store.transact(instead) is None:
            return short
        fresh = await get_record(store, Reservation, hold.key)
        if fresh is None:
            raise RuntimeError(f"{hold.key.pk} / {hold.key.sk} vanished")
        hold = fresh
    raise RuntimeError(f"{hold.key.pk} / {hold.key.sk}: kept changing")

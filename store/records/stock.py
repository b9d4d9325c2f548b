"""Stock and the checkouts' holds on it, as the table holds them:

    STOCK#{sku} / METADATA                      StockRecord     onHand, reserved, available, sold
    QUOTE#{sig} / RESERVATION#{gen}#{attempt}   Reservation     one checkout's hold: pieces, state
    RESERVATIONS / {expiresAt}#{sig}#{gen}#{n}  OpenReservation the sweep's list of holds not yet settled

`available` = onHand - reserved, kept as its own counter so a condition can guard it
(DynamoDB conditions compare, they do not subtract); every change moves the counters it
touches together, in one transaction with the reservation's state. A reservation goes
reserved -> sold | released | short once; a released one whose session is paid late
goes on to sold (taken from free stock) or short (none left: the order is flagged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store import keys

ON_HAND, RESERVED, AVAILABLE, SOLD = "onHand", "reserved", "available", "sold"
STATES = ("reserved", "sold", "released", "short")
SETTLED_KEPT_SECONDS = 90 * 86400  # a settled hold is kept a while for a late event, then TTL


@dataclass(frozen=True, slots=True)
class StockRecord:
    sku: str
    on_hand: int
    reserved: int
    available: int  # on_hand - reserved (below 0 after a stock change under open holds)
    sold: int
    version: int = 0

    @property
    def key(self) -> keys.Key:
        return keys.stock(self.sku)

    @classmethod
    def seed(cls, sku: str, on_hand: int) -> StockRecord:
        """As the catalog file starts it: used only while the store has no record."""
        return cls(sku, on_hand, 0, on_hand, 0)

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "Stock", "sku": self.sku,
                ON_HAND: self.on_hand, RESERVED: self.reserved, AVAILABLE: self.available, SOLD: self.sold,
                keys.VERSION: self.version}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StockRecord:
        return cls(item[keys.PK].removeprefix("STOCK#"), int(item[ON_HAND]), int(item[RESERVED]),
                   int(item[AVAILABLE]), int(item.get(SOLD, 0)), int(item.get(keys.VERSION, 0)))


@dataclass(frozen=True, slots=True)
class Reservation:
    """A checkout's hold on the pieces its quote takes (bundles as their parts)."""
    signature: str
    generation: int
    attempt: int
    pieces: tuple[tuple[str, int], ...]  # (sku, units), one per tracked piece
    state: str
    hold_until: int  # the session's expires_at: the sweep looks after that
    created_at: int
    version: int = 1
    settled_at: int | None = None

    @property
    def key(self) -> keys.Key:
        return keys.reservation(self.signature, self.generation, self.attempt)

    @property
    def open_key(self) -> keys.Key:
        return keys.open_reservation(self.hold_until, self.signature, self.generation, self.attempt)

    def to_item(self) -> dict[str, Any]:
        item = {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "Reservation",
                "generation": self.generation, "attempt": self.attempt,
                "pieces": [[sku, units] for sku, units in self.pieces], "state": self.state,
                "holdUntil": self.hold_until, "createdAt": self.created_at, keys.VERSION: self.version}
        if self.settled_at is not None:
            item.update(settledAt=self.settled_at, **{keys.EXPIRES_AT: self.settled_at + SETTLED_KEPT_SECONDS})
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Reservation:
        return cls(item[keys.PK].removeprefix("QUOTE#"), int(item["generation"]), int(item["attempt"]),
                   tuple((str(sku), int(units)) for sku, units in item["pieces"]), str(item["state"]),
                   int(item["holdUntil"]), int(item["createdAt"]), int(item.get(keys.VERSION, 1)),
                   item.get("settledAt"))


@dataclass(frozen=True, slots=True)
class OpenReservation:
    """RESERVATIONS / {holdUntil}#...: a hold not yet sold or released, by when it ends."""
    signature: str
    generation: int
    attempt: int
    hold_until: int

    @property
    def key(self) -> keys.Key:
        return keys.open_reservation(self.hold_until, self.signature, self.generation, self.attempt)

    @property
    def reservation_key(self) -> keys.Key:
        return keys.reservation(self.signature, self.generation, self.attempt)

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "OpenReservation",
                "signature": self.signature, "generation": self.generation, "attempt": self.attempt,
                "holdUntil": self.hold_until}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> OpenReservation:
        return cls(str(item["signature"]), int(item["generation"]), int(item["attempt"]), int(item["holdUntil"]))

    @classmethod
    def of(cls, reservation: Reservation) -> OpenReservation:
        return cls(reservation.signature, reservation.generation, reservation.attempt, reservation.hold_until)

"""The gateway's own state, in the SYSTEM partition:

    SYSTEM / STRIPE_SYNC      SyncCheckpoint   lastSyncAt, lastSyncCount (the seed's), the run in progress
    SYSTEM / SYNC_LEASE       SyncLease        who is reconciling, until when
    SYSTEM / STRIPE_CATALOG   CatalogPrices    SKU -> Stripe product and price
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from store import keys


@dataclass(frozen=True, slots=True)
class SyncRun:
    """The window a reconciliation run is going through, and the last session it read."""
    since: int
    until: int
    starting_after: str | None = None

    def to_item(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "startingAfter": self.starting_after}


@dataclass(frozen=True, slots=True)
class SyncCheckpoint:
    last_sync_at: Any = None  # epoch seconds (the replaced system may have written text)
    last_sync_count: Any = None
    run: SyncRun | None = None  # a run that has not finished its window
    extra: Mapping[str, Any] = field(default_factory=dict)

    key = keys.STRIPE_SYNC

    def to_item(self) -> dict[str, Any]:
        item = {**self.extra, keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "SyncCheckpoint",
                "run": self.run.to_item() if self.run else None}
        if self.last_sync_at is not None:
            item["lastSyncAt"] = self.last_sync_at
        if self.last_sync_count is not None:
            item["lastSyncCount"] = self.last_sync_count
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> SyncCheckpoint:
        if item is None:
            return cls()
        run = item.get("run")
        known = {keys.PK, keys.SK, keys.ENTITY, "lastSyncAt", "lastSyncCount", "run"}
        return cls(item.get("lastSyncAt"), item.get("lastSyncCount"),
                   SyncRun(run["since"], run["until"], run.get("startingAfter")) if run else None,
                   {name: value for name, value in item.items() if name not in known})


@dataclass(frozen=True, slots=True)
class SyncLease:
    holder: str
    expires_at: int

    key = keys.SYNC_LEASE

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "SyncLease", "holder": self.holder,
                keys.EXPIRES_AT: self.expires_at}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> SyncLease:
        return cls(item["holder"], item.get(keys.EXPIRES_AT, 0))


@dataclass(frozen=True, slots=True)
class CatalogPrice:
    """A SKU's Stripe product and active price."""
    product_id: str
    price_id: str
    unit_amount: int
    currency: str  # upper-case, as in the catalog
    tax_behavior: str | None = None  # exclusive | inclusive; None in maps saved before it was kept


@dataclass(frozen=True, slots=True)
class CatalogPrices:
    prices: Mapping[str, CatalogPrice]

    key = keys.STRIPE_CATALOG

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "StripeCatalog",
                "prices": {sku: {"product": p.product_id, "price": p.price_id, "unitAmount": p.unit_amount,
                                 "currency": p.currency, "taxBehavior": p.tax_behavior}
                           for sku, p in self.prices.items()}}

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> CatalogPrices:
        if item is None:
            return cls({})
        return cls({sku: CatalogPrice(v["product"], v["price"], v["unitAmount"], v["currency"], v.get("taxBehavior"))
                    for sku, v in item.get("prices", {}).items()})

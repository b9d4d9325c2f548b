"""The product catalog: read from JSON once at start, validated, then immutable.

A bad entry stops the start, and the error names it (``products[3].price: ...``).
Bundles are purchasable SKUs made of other SKUs, sold at a bundle price below the
sum of their parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,31}$"
MAX_STOCK = 1_000_000  # on hand of one piece: a typo guard (setStock takes no more either)
MAX_PRICE = 1_000_000  # 10,000.00 in minor units: a typo guard, far above any real piece
Text = Field(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]*$")


class CatalogError(Exception):
    """The catalog file is missing, unreadable or has a bad entry."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    sku: str = Field(pattern=SKU_PATTERN)
    name: str = Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]*$")
    description: str | None = Text
    price: int = Field(gt=0, le=MAX_PRICE)
    active: bool = True
    images: tuple[str, ...] = Field(default=(), max_length=10)


class ProductEntry(_Entry):
    category: Literal["necklaces", "earrings", "bracelets", "rings", "accessories"]
    stock: int | None = Field(None, ge=0, le=MAX_STOCK)  # the starting quantity; absent: unlimited
    variantGroup: str | None = Field(None, pattern=SKU_PATTERN)
    variantName: str | None = Field(None, min_length=1, max_length=60)


class BundlePart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    sku: str = Field(pattern=SKU_PATTERN)
    quantity: int = Field(ge=1, le=10)


class BundleEntry(_Entry):
    items: tuple[BundlePart, ...] = Field(min_length=2, max_length=10)


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    currency: str = Field(pattern=r"^[A-Z]{3}$")
    products: tuple[ProductEntry, ...] = Field(min_length=1)
    bundles: tuple[BundleEntry, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CatalogFile:
        seen: set[str] = set()
        for entry in (*self.products, *self.bundles):
            if entry.sku in seen:
                raise ValueError(f"SKU {entry.sku} appears twice")
            seen.add(entry.sku)
        prices = {p.sku: p.price for p in self.products}
        for bundle in self.bundles:
            for part in bundle.items:
                if part.sku not in prices:
                    raise ValueError(f"bundle {bundle.sku} contains unknown product {part.sku}")
            parts_total = sum(prices[p.sku] * p.quantity for p in bundle.items)
            if bundle.price >= parts_total:
                raise ValueError(
                    f"bundle {bundle.sku} costs {bundle.price}, not less than its parts ({parts_total})"
                )
        return self


@dataclass(frozen=True, slots=True)
class Product:
    """What the shop sells under one SKU: a piece, or a bundle of pieces."""

    sku: str
    name: str
    price: int  # minor units: what one unit costs
    list_price: int  # minor units: price of the parts bought separately (== price unless a bundle)
    currency: str
    active: bool
    category: str
    description: str | None
    images: tuple[str, ...]
    variant_group: str | None = None
    variant_name: str | None = None
    bundle_items: tuple[tuple[str, int], ...] = ()
    stock: int | None = None  # the catalog's starting quantity; None: not tracked (unlimited)

    @property
    def is_bundle(self) -> bool:
        return bool(self.bundle_items)


class Catalog:
    def __init__(self, products: list[Product], currency: str) -> None:
        self.currency = currency
        self.products = tuple(products)
        self._by_sku = {p.sku: p for p in products}

    def get(self, sku: str) -> Product | None:
        return self._by_sku.get(sku)

    def stock_units(self, sku: str, quantity: int) -> tuple[tuple[str, int], ...]:
        """The tracked pieces `quantity` of a SKU takes from stock: itself, or a bundle's
        parts; untracked (unlimited) pieces are left out."""
        product = self._by_sku[sku]
        parts = product.bundle_items or ((sku, 1),)
        return tuple((part, per * quantity) for part, per in parts if self._by_sku[part].stock is not None)

    @property
    def tracked(self) -> tuple[Product, ...]:
        """The pieces whose stock is counted."""
        return tuple(p for p in self.products if p.stock is not None)

    @classmethod
    def from_file(cls, data: CatalogFile) -> Catalog:
        prices = {p.sku: p.price for p in data.products}
        products = [
            Product(p.sku, p.name, p.price, p.price, data.currency, p.active, p.category,
                    p.description, p.images, p.variantGroup, p.variantName, stock=p.stock)
            for p in data.products
        ]
        products += [
            Product(b.sku, b.name, b.price, sum(prices[i.sku] * i.quantity for i in b.items),
                    data.currency, b.active, "bundles", b.description, b.images,
                    bundle_items=tuple((i.sku, i.quantity) for i in b.items))
            for b in data.bundles
        ]
        return cls(products, data.currency)


def load_catalog(path: Path) -> Catalog:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc.strerror}") from None
    try:
        data = CatalogFile.model_validate_json(raw)
    except ValidationError as exc:
        problems = [
            f"{_location(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise CatalogError(f"invalid catalog {path}:\n  " + "\n  ".join(problems)) from None
    return Catalog.from_file(data)


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "catalog"

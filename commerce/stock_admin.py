"""What admins do with stock: see every piece's counts, and set how many are on hand.

`set_stock` writes on hand over the version it read (available = on hand - reserved;
open holds keep their pieces, so setting on hand below what is reserved leaves available
negative: those checkouts, if paid, become OUT_OF_STOCK orders, not oversold ones)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from commerce.catalog import MAX_STOCK, Catalog, Product
from commerce.errors import ErrorCode, Problem, shown
from commerce.stock import available_of, skus_behind, stock_levels
from store import Store, keys
from store.base import MAX_VERSION_RETRIES, Conflict
from store.records.stock import StockRecord


@dataclass(frozen=True, slots=True)
class StockView:
    """A product with its counts (None where it is not counted: unlimited, or a bundle)."""
    product: Product
    record: StockRecord | None
    available: int | None


async def stock_views(store: Store, catalog: Catalog, products: tuple[Product, ...] | None = None
                      ) -> list[StockView]:
    """Every product (or these) with its counts, in one batch read."""
    shown_products = catalog.products if products is None else products
    levels = await stock_levels(store, catalog, skus_behind(catalog, (p.sku for p in shown_products)))
    return [StockView(p, levels.get(p.sku) if not p.is_bundle else None, available_of(catalog, p.sku, levels))
            for p in shown_products]


def stock_problem(catalog: Catalog, sku: str, on_hand: int) -> Problem | None:
    """Why setStock refuses these inputs; None when they are fine. Nothing is written
    for any of them."""
    product = catalog.get(sku) if keys.fits(sku, keys.MAX_SKU_BYTES) else None
    if product is None:
        return Problem(("sku",), ErrorCode.UNKNOWN_SKU, f"No product has SKU {shown(sku)}.")
    if product.is_bundle:
        parts = ", ".join(part for part, _ in product.bundle_items)
        return Problem(("sku",), ErrorCode.NOT_STOCKED,
                       f"{product.sku} is a bundle: its stock is its parts' ({parts}).")
    if product.stock is None:
        return Problem(("sku",), ErrorCode.NOT_STOCKED,
                       f"{product.sku} is not counted (unlimited): give it a `stock` in the catalog file first.")
    if isinstance(on_hand, bool) or not isinstance(on_hand, int) or not 0 <= on_hand <= MAX_STOCK:
        return Problem(("onHand",), ErrorCode.INVALID_INPUT, f"On hand is a whole number from 0 to {MAX_STOCK}.")
    return None


async def set_stock(store: Store, catalog: Catalog, sku: str, on_hand: int) -> StockView | Problem:
    """Set how many of a piece are on hand; the holds of open checkouts stay as they are."""
    problem = stock_problem(catalog, sku, on_hand)
    if problem is not None:
        return problem
    for _ in range(MAX_VERSION_RETRIES):
        item = await store.get(keys.stock(sku))
        if item is None:
            record = replace(StockRecord.seed(sku, on_hand), version=1)
            written = await store.put(record.to_item(), if_absent=True)
        else:
            current = StockRecord.from_item(item)
            record = replace(current, on_hand=on_hand, available=on_hand - current.reserved,
                             version=current.version + 1)
            written = await store.put(record.to_item(), if_version=current.version)
        if written:
            product = catalog.get(sku)
            assert product is not None
            return StockView(product, record, max(0, record.available))
    raise Conflict(f"stock of {sku} kept changing")

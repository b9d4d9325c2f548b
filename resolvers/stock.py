"""Stock on the storefront (how many of a SKU can be bought now) and for admins (the
counts, and setStock). The caller has checked the admin role."""

from __future__ import annotations

from commerce.stock import available_of, levels_of, skus_behind
from commerce.stock_admin import StockView, set_stock, stock_views
from resolvers.refusals import Refused, refusals
from web.context import Context


async def available(context: Context, sku: str) -> int | None:
    """How many of a SKU can be bought now; None when unlimited. The request's SKUs are
    read in one batch (StockBySkuLoader); nothing is reserved."""
    catalog = context.services.catalog
    parts = sorted(p for p in skus_behind(catalog, [sku]) if (found := catalog.get(p)) and found.stock is not None)
    if not parts:
        return None
    records = await context.loaders.stock_by_sku.load_many(parts)
    return available_of(catalog, sku, levels_of(catalog, dict(zip(parts, records, strict=True))))


async def admin_products(context: Context) -> list[StockView]:
    services = context.services
    return await stock_views(services.store, services.catalog)


async def set_stock_of(context: Context, sku: str, on_hand: int) -> StockView | Refused:
    services = context.services
    result = await set_stock(services.store, services.catalog, sku, on_hand)
    if isinstance(result, StockView):
        return result
    return refusals([result], lambda field: ("input", *(str(part) for part in field)))


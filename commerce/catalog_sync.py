"""Catalog → Stripe: one product and one active price per SKU, found by lookup_key.

Idempotent: a SKU whose price already matches is left alone; a changed price gets a
new Stripe price that takes over the lookup key (Stripe prices are immutable). The
resulting SKU → ids map is saved in the store (SYSTEM / STRIPE_CATALOG) for checkout.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from commerce.catalog import Catalog, Product
from payments import Payments, Price
from store import Store, keys


@dataclass(frozen=True, slots=True)
class StripePrice:
    product_id: str
    price_id: str
    unit_amount: int
    currency: str  # upper-case, as in the catalog
    tax_behavior: str | None = None  # exclusive | inclusive; None in maps saved before it was kept


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged")


CatalogMap = dict[str, StripePrice]


async def sync_catalog(payments: Payments, catalog: Catalog, *, tax_behavior: str = "exclusive"
                       ) -> tuple[CatalogMap, SyncReport]:
    """Bring Stripe in line with the catalog; the map is the caller's to save. Prices say
    whether they include tax (`tax_behavior`): Stripe Tax refuses a price that does not,
    on an account with no default."""
    report = SyncReport()
    limit = asyncio.Semaphore(4)

    async def one(product: Product) -> tuple[str, StripePrice]:
        async with limit:
            return product.sku, await _sync_product(payments, product, report, tax_behavior)

    mapping = dict(await asyncio.gather(*(one(p) for p in catalog.products)))
    return mapping, report


async def _sync_product(payments: Payments, product: Product, report: SyncReport,
                        tax_behavior: str) -> StripePrice:
    existing = await payments.price_by_lookup_key(product.sku)
    if existing is None:
        created = await payments.create_product(_product_params(product),
                                                idempotency_key=f"catalog-product-{product.sku}")
        price = await _create_price(payments, created.id, product, tax_behavior)
        report.created.append(product.sku)
        return StripePrice(created.id, price.id, product.price, product.currency, tax_behavior)

    stripe_product = existing.product
    assert stripe_product is not None  # expanded by price_by_lookup_key
    changed = False
    if stripe_product.name != product.name or stripe_product.active != product.active:
        await payments.update_product(stripe_product.id, name=product.name, active=product.active)
        changed = True
    price = existing
    if not _matches(existing, product, tax_behavior):
        price = await _create_price(payments, stripe_product.id, product, tax_behavior)
        changed = True
    (report.updated if changed else report.unchanged).append(product.sku)
    return StripePrice(stripe_product.id, price.id, product.price, product.currency, tax_behavior)


async def _create_price(payments: Payments, product_id: str, product: Product, tax_behavior: str) -> Price:
    return await payments.create_price({
        "product": product_id, "currency": product.currency.lower(), "unit_amount": product.price,
        "lookup_key": product.sku, "transfer_lookup_key": True, "metadata": {"sku": product.sku},
        "tax_behavior": tax_behavior,
    }, idempotency_key=f"catalog-price-{product.sku}-{product.price}-{product.currency}-{tax_behavior}")


def _matches(price: Price, product: Product, tax_behavior: str) -> bool:
    return (price.unit_amount == product.price and price.currency == product.currency.lower()
            and price.active and price.tax_behavior == tax_behavior)


def _product_params(product: Product) -> dict:
    params: dict = {"name": product.name, "active": product.active, "metadata": {"sku": product.sku}}
    if product.description:
        params["description"] = product.description
    return params


async def save_catalog_map(store: Store, mapping: CatalogMap) -> None:
    key = keys.STRIPE_CATALOG
    await store.put({
        keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "StripeCatalog",
        "prices": {sku: {"product": p.product_id, "price": p.price_id, "unitAmount": p.unit_amount,
                         "currency": p.currency, "taxBehavior": p.tax_behavior} for sku, p in mapping.items()},
    })


async def load_catalog_map(store: Store) -> CatalogMap:
    item = await store.get(keys.STRIPE_CATALOG)
    if item is None:
        return {}
    return {sku: StripePrice(v["product"], v["price"], v["unitAmount"], v["currency"], v.get("taxBehavior"))
            for sku, v in item.get("prices", {}).items()}

from __future__ import annotations

from commerce.catalog import Product
from web.context import Context


def products(context: Context) -> tuple[Product, ...]:
    return context.services.catalog.products

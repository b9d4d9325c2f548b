from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from commerce.pricing import CartLine, price_cart
from commerce.quotes import Quote, QuoteRejected, create_quote, load_quote
from resolvers.refusals import Refused, refusals
from store.base import now_epoch
from web.context import Context

log = logging.getLogger("gateway.quotes")


class CartItem(Protocol):
    """One line of createCartQuote's input."""

    sku: str
    quantity: int


async def create_cart_quote(context: Context, items: Iterable[CartItem]) -> Quote | Refused:
    services = context.services
    priced = price_cart(services.catalog, [CartLine(item.sku, item.quantity) for item in items])
    if isinstance(priced, list):
        return refusals(priced, _items_path)
    return await create_quote(services.store, services.quote_secret, priced, now=now_epoch(),
                              ttl_minutes=services.settings.quote_ttl_minutes)


def _items_path(field: tuple[str | int, ...]) -> Sequence[str]:
    """The cart's ("lines", 0, "sku") is the input's items[0].sku."""
    _lines, *rest = field
    return ("input", "items", *(str(part) for part in rest))


async def quote(context: Context, signature: str) -> Quote | QuoteRejected:
    """A stored, genuine quote (expired ones too: the client reads expiresAt)."""
    services = context.services
    try:
        return await load_quote(services.store, services.quote_secret, signature)
    except QuoteRejected as rejected:
        return rejected

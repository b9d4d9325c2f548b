from __future__ import annotations

import logging
from typing import Sequence

from commerce.errors import Problem
from commerce.pricing import CartLine, price_cart
from commerce.quotes import Quote, QuoteRejected, create_quote, load_quote
from web.context import Context
from store.base import now_epoch

log = logging.getLogger("gateway.quotes")


async def create_cart_quote(context: Context, lines: Sequence[CartLine]) -> Quote | list[Problem]:
    services = context.services
    priced = price_cart(services.catalog, lines)
    if isinstance(priced, list):
        return priced
    return await create_quote(services.store, services.quote_secret, priced, now=now_epoch(),
                              ttl_minutes=services.settings.quote_ttl_minutes)


async def quote(context: Context, signature: str) -> Quote | QuoteRejected:
    """A stored, genuine quote (expired ones too: the client reads expiresAt)."""
    services = context.services
    try:
        return await load_quote(services.store, services.quote_secret, signature)
    except QuoteRejected as rejected:
        return rejected

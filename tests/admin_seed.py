"""Orders for the admin listing tests, written straight through the store and the records."""

from __future__ import annotations

import asyncio

from store.records import Facts, Order, OrderLine
from store.records.fulfillment import Fulfillment

STATUSES = ("PAID", "PAID", "PAID", "REFUNDED", "PROCESSING", "PAYMENT_FAILED", "DISPUTED")
FULFILMENTS = ("UNFULFILLED", "UNFULFILLED", "SHIPPED", "DELIVERED")
START = 1_700_000_000


def order_id(n: int) -> str:
    return f"cs_test_admin{n:07d}x"


def email(n: int) -> str:
    return f"shopper{n % 50}@example.com"


def make_order(n: int, *, created: int | None = None) -> Order:
    oid, guest = order_id(n), n % 5 == 0
    return Order(
        order_id=oid, order_number="BC-" + oid[-8:].upper(), user_id=None if guest else f"user-{n % 50}",
        guest=guest, guest_email=email(n) if guest else None, status=STATUSES[n % len(STATUSES)],
        facts=Facts.from_item(None), items=(OrderLine("N-RED", "Necklace", 1, 3000, 3000),), currency="USD",
        subtotal=3000, discount=0, shipping=0, tax=0, total=3000, refunded=0, charged_back=0,
        email=email(n), shipping_address=None, stripe_session_id=oid, stripe_payment_intent_id=None,
        quote_signature=None, created_at=created or START + n * 60, updated_at=START, version=1,
        fulfillment=Fulfillment(FULFILMENTS[n % len(FULFILMENTS)]),
    )


async def write_orders(store, orders: list[Order], *, listing_copies: bool = False) -> None:
    """The order items (and, for guest lookups, the owners' listing copies), 50 at a time."""
    items = [o.to_item() for o in orders]
    if listing_copies:
        items += [o.to_item(o.listing_key) for o in orders]
    for start in range(0, len(items), 50):
        await asyncio.gather(*(store.put(i) for i in items[start:start + 50]))


def seed(gateway, orders: list[Order], *, listing_copies: bool = False) -> None:
    async def run() -> None:
        store = await gateway.open_store()
        try:
            await write_orders(store, orders, listing_copies=listing_copies)
        finally:
            await store.close()

    asyncio.run(run())

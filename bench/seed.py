"""Users and orders for the throughput and scaling runs, written through the store's own
interface in the shape `commerce.orders` writes (ORDER#{id} / METADATA and the owner's
USER#… / ORDER#… listing copy), and the same data as a JSON file for the peer."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from commerce.orders import order_number
from store import keys
from store.base import Store
from store.records import Order

CATALOG = [("N-RED", "Red Necklace", 3000), ("N-ORG", "Orange Necklace", 3000),
           ("E-MAG-SIL", "Magnetic Earrings, silver", 2500), ("B-GLD", "Gold Bracelet", 4200),
           ("R-SIL", "Silver Ring", 1800)]
START = 1_700_000_000  # orders are spread over the year after this


@dataclass
class Seeded:
    users: dict[str, int]  # user id -> number of orders
    order_ids: dict[str, list[str]] = field(default_factory=dict)  # newest first
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # peer data, newest first


def make_order(user_id: str, n: int, rng: random.Random) -> dict[str, Any]:
    order_id = f"cs_test_bench{user_id.replace('-', '')}{n:06d}"
    lines: list[dict[str, Any]] = []
    for sku, name, price in rng.sample(CATALOG, 3):
        quantity = rng.randint(1, 3)
        lines.append({"sku": sku, "name": name, "quantity": quantity, "unitPrice": price,
                      "total": price * quantity})
    subtotal = sum(line["total"] for line in lines)
    created = START + n * 3000 + rng.randint(0, 2999)
    key = keys.order_pointer(order_id)
    return {
        keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "Order", "orderId": order_id,
        "orderNumber": order_number(order_id), "userId": user_id, "guest": False, "status": "PAID",
        "facts": {"paid": True, "paymentFailed": False, "refunded": 0, "dispute": "none"},
        "items": lines, "currency": "USD", "subtotal": subtotal, "discount": 0, "shipping": 500,
        "tax": 0, "total": subtotal + 500, "refunded": 0, "email": f"{user_id}@example.com",
        "shippingAddress": {"name": "Bench Shopper", "line1": "1 Main St", "line2": None,
                            "city": "Austin", "state": "TX", "postalCode": "78701", "country": "US"},
        "stripeSessionId": order_id, "stripePaymentIntentId": f"pi_bench{order_id[-12:]}",
        "quoteSignature": None, "createdAt": created, "updatedAt": created, keys.VERSION: 1,
    }


def make_profile(user_id: str) -> dict[str, Any]:
    key = keys.profile(user_id)
    return {keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "Profile", "userId": user_id,
            "email": f"{user_id}@example.com", "displayName": f"Shopper {user_id}",
            "shippingAddress": {"line1": "1 Main St", "line2": None, "city": "Austin", "state": "TX",
                                "postalCode": "78701", "country": "US"},
            "guestClaims": [], "createdAt": START, "updatedAt": START, keys.VERSION: 1}


async def seed(store: Store, users: dict[str, int], *, keep_for_peer: set[str]) -> Seeded:
    """Write every user's profile and orders; keep the orders of `keep_for_peer` in memory."""
    rng = random.Random(8)
    seeded = Seeded(users)
    limit = asyncio.Semaphore(32)

    async def put(item: dict[str, Any]) -> None:
        async with limit:
            await store.put(item)

    for user_id, count in users.items():
        profile = make_profile(user_id)
        orders = [make_order(user_id, n, rng) for n in range(count)]
        orders.sort(key=lambda o: o["createdAt"], reverse=True)
        writes = [profile]
        for order in orders:
            listing = Order.from_item(order).listing_key
            writes += [order, {**order, keys.PK: listing.pk, keys.SK: listing.sk}]
        await asyncio.gather(*(put(item) for item in writes))
        seeded.order_ids[user_id] = [o["orderId"] for o in orders]
        if user_id in keep_for_peer:
            seeded.profiles[user_id] = profile
            seeded.orders[user_id] = orders
    return seeded


def write_peer_data(path: Path, seeded: Seeded, tokens: dict[str, str]) -> None:
    path.write_bytes(orjson.dumps({
        "tokens": {token: user for user, token in tokens.items() if user in seeded.profiles},
        "profiles": seeded.profiles, "orders": seeded.orders}))

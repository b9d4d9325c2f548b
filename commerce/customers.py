"""A signed-in shopper's Stripe customer: made once, kept on their profile."""

from __future__ import annotations

import hashlib

from commerce.profiles import Claims, link_customer
from payments import SOURCE, Payments
from store import Store, keys


async def ensure_customer(
    store: Store, payments: Payments, user_id: str, email: str | None, now: int, *,
    replacing: str | None = None,
) -> str:
    """The user's Stripe customer id: created once, kept on the profile, reused; made
    anew `replacing` one that Stripe no longer knows."""
    profile = await store.get(keys.profile(user_id))
    if profile and profile.get(keys.CUSTOMER_ID) and profile[keys.CUSTOMER_ID] != replacing:
        return profile[keys.CUSTOMER_ID]
    seed = f"{user_id}\n{email}" + (f"\nreplacing {replacing}" if replacing else "")
    tag = hashlib.sha256(seed.encode()).hexdigest()[:16]
    customer = await payments.create_customer(email=email, metadata={"userId": user_id, "source": SOURCE},
                                              idempotency_key=f"customer-{tag}")
    await link_customer(store, Claims(user_id, email, False), profile, customer)
    return customer

from __future__ import annotations

from telemetry.metrics import STRIPE_READS_REFUSED
from web.context import Context
from web.ratelimit import Limited, client_ip, hit, user_client

# Stripe reads one GraphQL request may cause (order fallbacks, checkout sessions): the
# success page needs two (the session and its order); more aliases get RATE_LIMITED.
MAX_STRIPE_READS_PER_REQUEST = 3


async def enforce(context: Context, action: str) -> None:
    """Count this request against the client IP's and the user's budget for `action`;
    ratelimit.Limited when either is spent."""
    services = context.services
    settings = services.settings
    limit = {"quote": settings.rate_limit_quotes, "checkout": settings.rate_limit_checkouts}[action]
    await hit(services.store, client_ip(context.request, services.trusted_proxies), action, limit)
    if context.viewer is not None:
        await hit(services.store, user_client(context.viewer.user_id), action, limit)


async def stripe_read(context: Context) -> None:
    """Spend one Stripe read of this request's budget and of the client's (the signed-in
    user's, else the client IP's) per-minute budget; ratelimit.Limited when either is spent.
    Called only right before a read Stripe must answer, so store-only requests cost nothing."""
    spent = context.extra.get("stripeReads", 0)
    if spent >= MAX_STRIPE_READS_PER_REQUEST:
        STRIPE_READS_REFUSED.inc()
        raise Limited(1)
    context.extra["stripeReads"] = spent + 1
    services = context.services
    client = (user_client(context.viewer.user_id) if context.viewer is not None
              else client_ip(context.request, services.trusted_proxies))
    try:
        await hit(services.store, client, "stripe-read", services.settings.rate_limit_stripe_reads)
    except Limited:
        STRIPE_READS_REFUSED.inc()
        raise

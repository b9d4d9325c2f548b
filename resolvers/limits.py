from __future__ import annotations

from context import Context
from ratelimit import client_ip, hit, user_client


async def enforce(context: Context, action: str) -> None:
    """Count this request against the client IP's and the user's budget for `action`;
    ratelimit.Limited when either is spent."""
    services = context.services
    settings = services.settings
    limit = {"quote": settings.rate_limit_quotes, "checkout": settings.rate_limit_checkouts}[action]
    await hit(services.store, client_ip(context.request, services.trusted_proxies), action, limit)
    if context.viewer is not None:
        await hit(services.store, user_client(context.viewer.user_id), action, limit)

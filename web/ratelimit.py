"""Fixed-window rate limits kept in the store (RATE#{client} / WINDOW#{action}#{n}, the
seed's layout), so they hold across every instance sharing the table.

The client is the peer address; X-Forwarded-For is believed only when the peer is a
configured trusted proxy, and then the rightmost address that is not a trusted proxy
counts, so a spoofed header added by the client does not help."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request

from store import Store, keys
from store.base import now_epoch

WINDOW_SECONDS = 60
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Limited(Exception):
    retry_after: int


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def client_ip(request: Request, trusted: Sequence[Network]) -> str:
    peer = request.client.host if request.client else "unknown"
    if not _is_trusted(peer, trusted):
        return peer
    chain = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()]
    for address in reversed(chain):
        if not _valid(address):
            return peer  # a garbled chain: trust only what we saw
        if not _is_trusted(address, trusted):
            return address
    return peer


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def user_client(user_id: str) -> str:
    return "user:" + hashlib.sha256(user_id.encode()).hexdigest()[:24]


async def hit(store: Store, client: str, action: str, limit: int) -> None:
    """Count one request; Limited when the client is over `limit` in this window."""
    now = now_epoch()
    window = now // WINDOW_SECONDS
    end = (window + 1) * WINDOW_SECONDS
    key = keys.rate_window(client, f"{action}#{window}")
    count = await store.add(key, "count", 1, expires_at=end + WINDOW_SECONDS)
    if count > limit:
        raise Limited(max(1, end - now))

"""Webhook delivery, signed as Stripe signs: `Stripe-Signature: t={unix},v1={hex}`, the
HMAC-SHA256 of `"{t}.{payload}"` keyed with the whsec_ secret. Deliveries run as
asyncio tasks (never inside an API call), retried with doubling backoff.

Modes, for tests: deliver (default), off (record only: listed with delivery_success=false),
paused (queue until flushed). `duplicate` sends extra copies, `reorder` shuffles a flush,
`undelivered_rate` drops a fraction of events for good."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("stripe_emulator.webhooks")


def signature_header(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class DeliveryConfig:
    urls: list[str]
    mode: str = "deliver"
    duplicate: int = 0
    reorder: bool = False
    undelivered_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)


class Deliverer:
    def __init__(self, secret: str, config: DeliveryConfig, *, transport: httpx.AsyncBaseTransport | None,
                 retries: int, backoff: float, delivered: set[str]) -> None:
        self.secret = secret
        self.config = config
        self.retries = retries
        self.backoff = backoff
        self.delivered = delivered
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._paused: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task] = set()

    def submit(self, event: dict[str, Any]) -> None:
        """Called for each new event, from inside an API call: never waits."""
        config = self.config
        if config.mode == "off" or not config.urls:
            return
        if config.undelivered_rate and config.rng.random() < config.undelivered_rate:
            return
        if config.mode == "paused":
            self._paused.append(event)
            return
        for _ in range(1 + config.duplicate):
            self._start(event)

    def _start(self, event: dict[str, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._paused.append(event)  # no loop yet (a sync caller): sent on the next flush
            return
        for url in self.config.urls:
            task = loop.create_task(self._deliver(url, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def flush(self) -> int:
        queued, self._paused = self._paused, []
        if self.config.reorder:
            self.config.rng.shuffle(queued)
        for event in queued:
            for _ in range(1 + self.config.duplicate):
                self._start(event)
        await self.drain()
        return len(queued)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, url: str, event: dict[str, Any]) -> None:
        payload = json.dumps(event).encode()
        delay = self.backoff
        for attempt in range(1, self.retries + 2):
            try:
                response = await self._http().post(url, content=payload, headers={
                    "content-type": "application/json; charset=utf-8",
                    "stripe-signature": signature_header(self.secret, payload),
                    "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
                if 200 <= response.status_code < 300:
                    self.delivered.add(event["id"])
                    return
                log.info("delivery of %s to %s: HTTP %s (attempt %s)", event["id"], url,
                         response.status_code, attempt)
            except httpx.HTTPError as exc:
                log.info("delivery of %s to %s failed: %s (attempt %s)", event["id"], url, exc, attempt)
            if attempt <= self.retries:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=30)
        return self._client

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

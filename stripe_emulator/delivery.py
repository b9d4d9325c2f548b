"""Webhook delivery, signed as Stripe signs: `Stripe-Signature: t={unix},v1={hex}`, the
HMAC-SHA256 of `"{t}.{payload}"` keyed with the whsec_ secret. Deliveries run as asyncio
tasks on the running loop (never inside an API call), retried with doubling backoff.

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
from typing import Any, Literal

import httpx

log = logging.getLogger("stripe_emulator.webhooks")
MAX_BACKOFF = 30.0
Mode = Literal["deliver", "off", "paused"]


def signature_header(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class DeliveryConfig:
    urls: list[str]
    mode: Mode = "deliver"
    duplicate: int = 0
    reorder: bool = False
    undelivered_rate: float = 0.0
    # The event types the endpoints subscribe to (a Stripe endpoint's enabled_events);
    # None is every type ("*"). Other events are for no endpoint: pending_webhooks 0.
    enabled_events: frozenset[str] | None = None
    rng: random.Random = field(default_factory=random.Random)

    def settings(self) -> dict[str, Any]:
        return {"urls": self.urls, "mode": self.mode, "duplicate": self.duplicate, "reorder": self.reorder,
                "undelivered_rate": self.undelivered_rate,
                "enabled_events": sorted(self.enabled_events) if self.enabled_events is not None else ["*"]}


class Deliverer:
    def __init__(self, secret: str, config: DeliveryConfig, *, transport: httpx.AsyncBaseTransport | None,
                 retries: int, backoff: float) -> None:
        self.secret = secret
        self.config = config
        self.retries = retries
        self.backoff = backoff
        self.delivered: set[str] = set()  # ids of events some endpoint answered with a 2xx
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._paused: list[dict[str, Any]] = []
        self._unstarted: list[dict[str, Any]] = []  # emitted where no event loop runs
        self._tasks: set[asyncio.Task] = set()

    def submit(self, event: dict[str, Any]) -> int:
        """Called for each new event, inside an API call: never waits. Returns how many
        endpoints the event is for (its pending_webhooks)."""
        config = self.config
        if config.mode == "off" or not config.urls:
            return 0
        if config.enabled_events is not None and event["type"] not in config.enabled_events:
            return 0
        if config.undelivered_rate and config.rng.random() < config.undelivered_rate:
            return len(config.urls)
        if config.mode == "paused":
            self._paused.append(event)
        else:
            self._start(event)
        return len(config.urls)

    def _start(self, event: dict[str, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._unstarted.append(event)
            return
        for _ in range(1 + self.config.duplicate):
            for url in self.config.urls:
                task = loop.create_task(self._deliver(url, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def flush(self) -> int:
        """Deliver everything paused or not yet started, one event after another (in a
        shuffled order with `reorder`), then wait for every delivery in flight."""
        queued, self._paused, self._unstarted = self._paused + self._unstarted, [], []
        if self.config.reorder:
            self.config.rng.shuffle(queued)
        for event in queued:
            await asyncio.gather(*[self._deliver(url, event) for _ in range(1 + self.config.duplicate)
                                   for url in self.config.urls])
        await self.drain()
        return len(queued)

    async def drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._tasks or self._unstarted:
            unstarted, self._unstarted = self._unstarted, []
            for event in unstarted:
                self._start(event)
            tasks = list(self._tasks)
            if all(t.get_loop() is loop for t in tasks):
                await asyncio.gather(*tasks, return_exceptions=True)
            else:  # deliveries running on another thread's loop (a server thread)
                await asyncio.sleep(0.01)

    def forget_queued(self) -> None:
        self._paused.clear()
        self._unstarted.clear()

    async def _deliver(self, url: str, event: dict[str, Any]) -> None:
        delay = self.backoff
        for attempt in range(1, self.retries + 2):
            payload = json.dumps(event).encode()
            try:
                response = await self._http().post(url, content=payload, headers={
                    "content-type": "application/json; charset=utf-8",
                    "stripe-signature": signature_header(self.secret, payload),
                    "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
                if 200 <= response.status_code < 300:
                    self.delivered.add(event["id"])
                    event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
                    return
                log.info("delivery of %s to %s: HTTP %s (attempt %s)", event["id"], url,
                         response.status_code, attempt)
            except httpx.HTTPError as exc:
                log.info("delivery of %s to %s failed: %r (attempt %s)", event["id"], url, exc, attempt)
            if attempt <= self.retries:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        log.warning("gave up delivering %s to %s after %s attempts", event["id"], url, self.retries + 1)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=30)
        return self._client

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*[t for t in self._tasks if t.get_loop() is asyncio.get_running_loop()],
                             return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

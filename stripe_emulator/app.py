"""The Emulator: its state, its ASGI app (Stripe's /v1 API, the pay pages, the test
controls) and its webhook deliveries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stripe_emulator import api, clock, controls, pages
from stripe_emulator.checkout.settle import expire_overdue
from stripe_emulator.delivery import Deliverer, DeliveryConfig
from stripe_emulator.errors import StripeError
from stripe_emulator.faults import Faults
from stripe_emulator.idempotency import IdempotencyKeys
from stripe_emulator.ids import new_id, request_id
from stripe_emulator.state import State


def api_version() -> str:
    """The API version of the installed stripe SDK, which events carry."""
    try:
        from stripe._api_version import _ApiVersion
    except ImportError:  # the stripe package is only needed by clients
        return "2026-10-28.endive"
    return _ApiVersion.CURRENT


class Emulator:
    def __init__(self, webhook_urls: list[str] | None = None, webhook_secret: str | None = None,
                 public_url: str | None = None, webhook_transport: httpx.AsyncBaseTransport | None = None,
                 delivery_retries: int = 5, delivery_backoff: float = 0.5,
                 enabled_events: frozenset[str] | None = None) -> None:
        self.webhook_secret = webhook_secret or "whsec_" + new_id("", 32)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.faults = Faults()
        self.deliverer = Deliverer(self.webhook_secret, DeliveryConfig(urls=list(webhook_urls or []),
                                                                       enabled_events=enabled_events),
                                   transport=webhook_transport, retries=delivery_retries, backoff=delivery_backoff)
        self.state = self._new_state()
        self.idempotency = IdempotencyKeys()
        self.clock = clock.Clock()
        self._ticker: asyncio.Task | None = None
        self.app = Starlette(routes=[
            Route("/v1/{path:path}", api.handle, methods=["GET", "POST", "DELETE"]),
            Route("/pay/{session_id}", pages.pay_page, methods=["GET", "POST"]),
            *controls.routes,
        ], exception_handlers={StripeError: _error}, lifespan=self._lifespan,
            middleware=[Middleware(OnTime, emulator=self)])
        self.app.state.emulator = self

    def expire_overdue(self) -> int:
        """Sessions past their expires_at (by this emulator's clock) expire now, with their events."""
        token = clock.use(self.clock)
        try:
            return expire_overdue(self.state)
        finally:
            clock.restore(token)

    async def _tick(self) -> None:
        """As Stripe does unasked: sessions expire on time, even when nobody reads them."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.expire_overdue()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Standalone under a server, close deliveries on shutdown. Mounted in another app
        (whose lifespan this one does not get) or called through httpx.ASGITransport, the
        owner calls aclose(); nothing here needs a startup event."""
        yield
        await self.aclose()

    def _new_state(self) -> State:
        from stripe_emulator.resources.webhook_endpoints import webhook_endpoint

        state = State(api_version=api_version(), on_event=self.deliverer.submit)
        self.deliverer.delivered = state.delivered
        events = self.deliverer.config.enabled_events
        for url in self.deliverer.config.urls:  # where it delivers, and which events
            endpoint = webhook_endpoint(url, sorted(events) if events is not None else ["*"],
                                        api_version=state.api_version)
            state.webhook_endpoints[endpoint["id"]] = endpoint
        return state

    def reset(self) -> None:
        """Forget every object, event, idempotency key and queued delivery, and set the clock
        back to the real time; keep the webhook settings and faults."""
        self.deliverer.forget_queued()
        self.state = self._new_state()
        self.idempotency = IdempotencyKeys()
        self.clock.offset = 0

    def base_url(self, request: Request) -> str:
        """Where browsers reach this app: public_url, else the request's origin and the
        prefix the app is mounted under."""
        if self.public_url:
            return self.public_url
        origin = str(request.url.replace(path="", query="", fragment="")).rstrip("/")
        return origin + request.scope.get("root_path", "").rstrip("/")

    async def drain(self) -> None:
        """Wait until no webhook delivery is pending or in flight (paused ones stay queued)."""
        await self.deliverer.drain()

    async def aclose(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self.deliverer.aclose()


TICK_SECONDS = 1.0


class OnTime:
    """Every request runs on this emulator's clock, and first expires what is due; the
    first request also starts the ticker that expires sessions nobody asks about."""

    def __init__(self, app: Any, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        emulator = self.emulator
        if emulator._ticker is None or emulator._ticker.done():
            emulator._ticker = asyncio.get_running_loop().create_task(emulator._tick())
        token = clock.use(emulator.clock)
        try:
            expire_overdue(emulator.state)
            await self.app(scope, receive, send)
        finally:
            clock.restore(token)


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StripeError)
    return exc.response(request_id())

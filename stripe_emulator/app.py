"""The emulator's ASGI app: Stripe's /v1 API (auth, idempotency, faults), the hosted pay
pages, and the test controls."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stripe_emulator import controls, pages
from stripe_emulator.delivery import Deliverer, DeliveryConfig
from stripe_emulator.errors import StripeError
from stripe_emulator.forms import decode
from stripe_emulator.ids import new_id
from stripe_emulator.resources import ROUTES, Call
from stripe_emulator.state import State

IDEMPOTENCY_SECONDS = 24 * 3600
MAX_BODY = 512 * 1024


def _api_version() -> str:
    try:
        from stripe._api_version import _ApiVersion

        return _ApiVersion.CURRENT
    except ImportError:  # the stripe package is only needed by clients
        return "2026-10-28.endive"


@dataclass
class Faults:
    latency_ms: int = 0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_drop: float = 0.0
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class _Stored:
    fingerprint: str
    status: int
    body: bytes
    at: float


class Emulator:
    def __init__(self, webhook_urls: list[str] | None = None, webhook_secret: str | None = None,
                 public_url: str | None = None, webhook_transport: httpx.AsyncBaseTransport | None = None,
                 delivery_retries: int = 5, delivery_backoff: float = 0.5) -> None:
        self.webhook_secret = webhook_secret or "whsec_" + new_id("", 32)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.faults = Faults()
        self._delivery = dict(transport=webhook_transport, retries=delivery_retries, backoff=delivery_backoff)
        self._urls = list(webhook_urls or [])
        self.reset()
        self._routes = [(method, _pattern(path), handler) for method, path, handler in ROUTES]
        self.app = Starlette(routes=[
            Route("/v1/{path:path}", self._api, methods=["GET", "POST", "DELETE"]),
            Route("/pay/{session_id}", pages.pay_page, methods=["GET", "POST"]),
            *controls.routes,
        ], exception_handlers={StripeError: self._error}, lifespan=self._lifespan)
        self.app.state.emulator = self

    def reset(self) -> None:
        previous = getattr(self, "deliverer", None)
        self.state = State(api_version=_api_version())
        self.deliverer = Deliverer(self.webhook_secret, DeliveryConfig(
            urls=previous.config.urls if previous else self._urls),
            delivered=self.state.delivered, **self._delivery)
        self.state.on_event = self.deliverer.submit
        self._idempotent: dict[str, _Stored] = {}
        self._in_flight: set[str] = set()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Run standalone (uvicorn), close deliveries on shutdown. Mounted in another app,
        that app's lifespan calls aclose()."""
        yield
        await self.aclose()

    async def drain(self) -> None:
        await self.deliverer.drain()

    async def aclose(self) -> None:
        await self.deliverer.aclose()

    async def _error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StripeError)
        return exc.response(new_id("req_", 14))

    async def _api(self, request: Request) -> Response:
        request_id = new_id("req_", 14)
        try:
            await self._inject_faults()
            _authenticate(request)
            params = await _params(request)
            handler, ids = self._route(request.method, request.url.path.split("/v1/", 1)[1])
            key = request.headers.get("idempotency-key") if request.method == "POST" else None
            if key is None:
                return self._answer(handler, ids, params, request, request_id, key)
            return await self._idempotent_call(key, handler, ids, params, request, request_id)
        except StripeError as exc:
            return exc.response(request_id)

    async def _inject_faults(self) -> None:
        f = self.faults
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        roll = f.rng.random()
        if roll < f.rate_429:
            raise StripeError(429, "invalid_request_error", "Too many requests hit the API too quickly.",
                              code="rate_limit")
        if roll < f.rate_429 + f.rate_500:
            raise StripeError(500, "api_error", "An unknown error occurred.")
        if roll < f.rate_429 + f.rate_500 + f.rate_drop:
            raise ConnectionResetError("fault injection: connection dropped")

    def _route(self, method: str, path: str):
        known_path = False
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match:
                known_path = True
                if route_method == method:
                    return handler, match.groupdict()
        if known_path:
            raise StripeError(405, "invalid_request_error", f"{method} is not allowed on /v1/{path[:100]}.")
        raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: /v1/{path[:100]}).")

    def _answer(self, handler, ids, params, request: Request, request_id: str, key: str | None) -> Response:
        self.state.request = (request_id, key)
        try:
            body = handler(Call(self.state, params, ids, self._base_url(request)))
        finally:
            self.state.request = (None, None)
        return JSONResponse(body, headers={"Request-Id": request_id,
                                           "Stripe-Version": request.headers.get("stripe-version", _api_version())})

    async def _idempotent_call(self, key: str, handler, ids, params, request: Request, request_id: str) -> Response:
        if len(key) > 255:
            raise StripeError(400, "invalid_request_error", "Idempotency keys are at most 255 characters.")
        fingerprint = hashlib.sha256(json.dumps([request.url.path, params], sort_keys=True).encode()).hexdigest()
        self._forget_old()
        stored = self._idempotent.get(key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise StripeError(400, "idempotency_error",
                                  "Keys for idempotent requests can only be used with the same parameters "
                                  "they were first used with.")
            return Response(stored.body, status_code=stored.status, media_type="application/json",
                            headers={"Idempotent-Replayed": "true", "Request-Id": request_id})
        if key in self._in_flight:
            raise StripeError(409, "invalid_request_error", "There is currently another in-progress "
                              "request using this Idempotent Key.", code="idempotency_key_in_use")
        self._in_flight.add(key)
        try:
            try:
                response = self._answer(handler, ids, params, request, request_id, key)
            except StripeError as exc:
                response = exc.response(request_id)
            if response.status_code < 500:
                self._idempotent[key] = _Stored(fingerprint, response.status_code, response.body, time.time())
            return response
        finally:
            self._in_flight.discard(key)

    def _forget_old(self) -> None:
        horizon = time.time() - IDEMPOTENCY_SECONDS
        for key in [k for k, v in self._idempotent.items() if v.at < horizon]:
            del self._idempotent[key]

    def _base_url(self, request: Request) -> str:
        if self.public_url:
            return self.public_url
        # Mounted under a prefix, Starlette keeps the prefix in root_path, not in base_url.
        return str(request.base_url).rstrip("/") + request.scope.get("root_path", "")


def _pattern(path: str) -> re.Pattern:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9_]+)", path.removeprefix("/v1/"))
    return re.compile(f"^{regex}$")


def _authenticate(request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise StripeError(401, "invalid_request_error",
                          "You did not provide an API key. Provide it in the Authorization header "
                          "(Authorization: Bearer YOUR_SECRET_KEY).")
    if not key.startswith("sk_test_"):
        shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "****"
        raise StripeError(401, "invalid_request_error",
                          f"Invalid API Key provided: {shown}. This emulator accepts sk_test_ keys only.")


async def _params(request: Request) -> dict[str, Any]:
    query = decode(request.url.query) if request.url.query else {}
    if request.method != "POST":
        return query
    body = await request.body()
    if len(body) > MAX_BODY:
        raise StripeError(413, "invalid_request_error", "Request body too large.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise StripeError(400, "invalid_request_error", "The body is not UTF-8 form data.") from None
    return {**query, **decode(text)}

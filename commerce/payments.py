"""The gateway's one door to Stripe: the official SDK, async calls only.

Every call goes through `Payments.call`, which counts it and turns Stripe being
unreachable, rate-limited, failing or misconfigured into PaymentsUnavailable (the
GraphQL layer answers PAYMENT_PROVIDER_UNAVAILABLE). A request Stripe refuses as
invalid is our bug and propagates as is. The SDK retries network errors and 429/5xx
itself (`max_network_retries`), reusing one idempotency key across its retries.
"""

from __future__ import annotations

import contextvars
import copy
import logging
import re
from typing import Any, Awaitable, Callable, TypeVar

import httpx
import stripe
from aiolimiter import AsyncLimiter

log = logging.getLogger("gateway.stripe")
_request_calls: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("stripe_calls", default=None)


def start_counting() -> list[int]:
    """Count this task's (request's) Stripe calls from now on: [calls]."""
    counter = [0]
    _request_calls.set(counter)
    return counter
# A Checkout Session id (it goes into a URL path: nothing else may)
SESSION_ID = re.compile(r"^cs_(test|live)_[A-Za-z0-9]{1,255}$")
SOURCE = "commerce-gateway"  # metadata.source on everything the gateway creates in Stripe
T = TypeVar("T")

UNAVAILABLE = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError,
               stripe.AuthenticationError, stripe.PermissionError)


class PaymentsUnavailable(Exception):
    """Stripe cannot be reached or refused to work right now; safe to try again."""


class Payments:
    def __init__(
        self, api_key: str, *, api_base: str | None = None, timeout: float = 10,
        max_network_retries: int = 2, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout)
        if transport is not None:
            # In-process Stripe (the emulator mounted on this server): no socket involved.
            self._http._client_async = httpx.AsyncClient(transport=transport)  # noqa: SLF001
        self.client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else None,
            http_client=self._http, max_network_retries=max_network_retries,
        )
        self.calls = 0
        self.errors = 0
        self.limiter: AsyncLimiter | None = None

    def throttled(self, per_second: float) -> Payments:
        """The same client, at most `per_second` calls a second (for batch jobs, which
        must leave Stripe's account-wide rate limit to the shop)."""
        view = copy.copy(self)
        view.limiter = AsyncLimiter(per_second, 1)
        return view

    async def call(self, operation: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        if self.limiter is not None:
            await self.limiter.acquire()
        self.calls += 1
        request = _request_calls.get()
        if request is not None:
            request[0] += 1
        try:
            return await operation(*args, **kwargs)
        except UNAVAILABLE as exc:
            self.errors += 1
            log.warning("stripe unavailable: %s %s", type(exc).__name__, exc.user_message or "")
            raise PaymentsUnavailable(f"{type(exc).__name__}: {exc.user_message or exc}") from exc

    async def retrieve_session(self, session_id: str, *, expand: list[str] | None = None):
        """The checkout session, or None when Stripe has no such session."""
        params = {"expand": expand} if expand else None
        try:
            return await self.call(self.client.v1.checkout.sessions.retrieve_async, session_id,
                                   params=params)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return None
            raise

    async def retrieve_session_data(self, session_id: str, *, expand: list[str] | None = None
                                    ) -> dict[str, Any] | None:
        """The checkout session as Stripe's JSON (plain dicts and lists), or None when
        Stripe has no such session. Same client, retries and errors as every other call,
        without building the SDK's objects: for the hot paths that only read fields."""
        if not SESSION_ID.match(session_id):
            return None
        params: dict[str, Any] = {"expand": expand} if expand else {}
        try:
            return await self._get_data(f"/v1/checkout/sessions/{session_id}", **params)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return None
            raise

    async def session_line_items_data(self, session_id: str) -> dict[str, Any]:
        """A session's line items (up to 100, a session's most) with their products, as JSON."""
        if not SESSION_ID.match(session_id):
            raise ValueError(f"not a checkout session id: {session_id[:80]!r}")
        return await self._get_data(f"/v1/checkout/sessions/{session_id}/line_items",
                                    limit=100, expand=["data.price.product"])

    async def _get_data(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.call(self.client.raw_request_async, "get", path, **params)
        return response.data

    async def close(self) -> None:
        await self._http.close_async()

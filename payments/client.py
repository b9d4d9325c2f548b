"""The gateway's one door to Stripe: one named async method per call it makes.

Every call goes through `_request`, which throttles it (for batch jobs), counts it (per
process and per request), and turns Stripe being unreachable, rate-limited, failing or
misconfigured into PaymentsUnavailable (the GraphQL layer answers
PAYMENT_PROVIDER_UNAVAILABLE). An object Stripe does not have is NotFound; a reused
idempotency key with other parameters is IdempotencyConflict. Any other request Stripe
refuses as invalid is our bug and propagates as the SDK raised it. The SDK retries network
errors and 429/5xx itself (`max_network_retries`), reusing one idempotency key across its
retries.

Answers are read as JSON (the SDK's raw request: same client, retries and errors, none of
its object building, which was most of a webhook's time) into the views of `views.py`.
"""

from __future__ import annotations

import contextvars
import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import stripe
from aiolimiter import AsyncLimiter

from payments.views import (
    SESSION_ID,
    Charge,
    CheckoutSession,
    Dispute,
    Event,
    Json,
    LineItem,
    Page,
    Price,
    Product,
    Refund,
    T,
    WebhookEndpoint,
)

log = logging.getLogger("gateway.stripe")
_request_calls: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("stripe_calls", default=None)
MAX_PAGE = 100  # Stripe's largest list page, and a session's most line items
# A session retrieved with this expansion carries its line items (Stripe includes up to
# ten; more are listed with their own call) and their products (for SKUs).
LINE_ITEMS_EXPANDED = "line_items.data.price.product"

UNAVAILABLE = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError,
               stripe.AuthenticationError, stripe.PermissionError)


def start_counting() -> list[int]:
    """Count this task's (request's) Stripe calls from now on: [calls]."""
    counter = [0]
    _request_calls.set(counter)
    return counter


class PaymentsUnavailable(Exception):
    """Stripe cannot be reached or refused to work right now; safe to try again."""


class PaymentsRefused(Exception):
    """Stripe refused a request the gateway made (an InvalidRequestError other than a missing
    object): not the client's doing and not worth retrying as is, e.g. a session expiry
    Stripe finds out of range because this machine's clock is off."""


class NotFound(Exception):
    """Stripe has no such object (`resource_missing`); `param` names the parameter."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.param = param


class IdempotencyConflict(Exception):
    """The idempotency key was used before with other parameters."""


class RefundRefused(Exception):
    """Stripe would not make the refund (more than the charge has left, a disputed charge):
    `code` is Stripe's (amount_too_large, charge_disputed, charge_already_refunded, ...)."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.code = code


class Payments:
    def __init__(
        self, api_key: str, *, api_base: str | None = None, timeout: float = 10,
        max_network_retries: int = 2, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout)
        if transport is not None:
            # In-process Stripe (the emulator mounted on this server): no socket involved.
            self._http._client_async = httpx.AsyncClient(transport=transport)
        self._client = stripe.StripeClient(
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

    async def close(self) -> None:
        await self._http.close_async()

    # ---- checkout sessions -----------------------------------------------------

    async def create_checkout_session(self, params: Json, *, idempotency_key: str) -> CheckoutSession:
        try:
            data = await self._request("post", "/v1/checkout/sessions", idempotency_key=idempotency_key, **params)
        except stripe.InvalidRequestError as exc:
            log.error("stripe refused a checkout session: %s (param %s)", exc.user_message or exc, exc.param)
            raise PaymentsRefused(f"{exc.code or 'invalid_request'}: {exc.user_message or exc}") from exc
        return CheckoutSession.from_json(data)

    async def retrieve_session(self, session_id: str, *, with_line_items: bool = False,
                               with_payment_intent: bool = False) -> CheckoutSession | None:
        """The checkout session, or None when it is not a session id or Stripe has no such
        session. With line items, it carries them (and their products) when they fit."""
        if not SESSION_ID.match(session_id):
            return None
        expand = [LINE_ITEMS_EXPANDED] * with_line_items + ["payment_intent"] * with_payment_intent
        try:
            data = await self._request("get", f"/v1/checkout/sessions/{session_id}",
                                       **({"expand": expand} if expand else {}))
        except NotFound:
            return None
        return CheckoutSession.from_json(data)

    async def session_line_items(self, session_id: str) -> tuple[LineItem, ...]:
        """A session's line items (up to 100, a session's most) with their products."""
        if not SESSION_ID.match(session_id):
            raise ValueError(f"not a checkout session id: {session_id[:80]!r}")
        data = await self._request("get", f"/v1/checkout/sessions/{session_id}/line_items",
                                   limit=MAX_PAGE, expand=["data.price.product"])
        return tuple(map(LineItem.from_json, data["data"]))

    async def list_completed_sessions(self, *, created_from: int, created_until: int,
                                      starting_after: str | None) -> Page[CheckoutSession]:
        """Completed sessions created in the window, newest first, each with its payment
        intent's latest charge and that charge's refunds."""
        params: dict[str, Any] = {
            "created": {"gte": created_from, "lte": created_until}, "status": "complete", "limit": MAX_PAGE,
            "expand": ["data.payment_intent.latest_charge.refunds"]}
        if starting_after:
            params["starting_after"] = starting_after
        return _page(await self._request("get", "/v1/checkout/sessions", **params), CheckoutSession.from_json)

    async def session_of_payment_intent(self, payment_intent: str) -> CheckoutSession | None:
        data = await self._request("get", "/v1/checkout/sessions", payment_intent=payment_intent, limit=1)
        return CheckoutSession.from_json(data["data"][0]) if data["data"] else None

    async def expire_session(self, session_id: str) -> bool:
        """Expire an open session: True; False when Stripe refuses because it is no longer
        open (completed or expired meanwhile: read it again to know which)."""
        try:
            await self._request("post", f"/v1/checkout/sessions/{session_id}/expire")
        except stripe.InvalidRequestError:
            return False
        return True

    # ---- customers, charges, refunds, disputes, events ---------------------------

    async def create_customer(self, *, email: str | None, metadata: Json, idempotency_key: str) -> str:
        """A new customer's id."""
        params: dict[str, Any] = {"metadata": metadata, **({"email": email} if email else {})}
        data = await self._request("post", "/v1/customers", idempotency_key=idempotency_key, **params)
        return data["id"]

    async def retrieve_charge(self, charge_id: str) -> Charge:
        """The charge with its refunds (`refunds` is None when they run past one page)."""
        return Charge.from_json(await self._request("get", f"/v1/charges/{charge_id}", expand=["refunds"]))

    async def charge_of_payment(self, payment_intent: str) -> Charge | None:
        """The payment intent's latest charge, with its refunds (None before it is charged)."""
        data = await self._request("get", f"/v1/payment_intents/{payment_intent}",
                                   expand=["latest_charge.refunds"])
        charge = data.get("latest_charge")
        return Charge.from_json(charge) if isinstance(charge, dict) else None

    async def create_refund(self, *, payment_intent: str, amount: int, reason: str | None, metadata: Json,
                            idempotency_key: str) -> Refund:
        """A refund of the payment intent's charge. The same key with the same parameters
        answers with the refund it made (IdempotencyConflict with others); Stripe refusing
        it (too much, a disputed charge) is RefundRefused with Stripe's message."""
        params: dict[str, Any] = {"payment_intent": payment_intent, "amount": amount, "metadata": metadata,
                                  **({"reason": reason} if reason else {})}
        try:
            data = await self._request("post", "/v1/refunds", idempotency_key=idempotency_key, **params)
        except stripe.InvalidRequestError as exc:
            raise RefundRefused(exc.user_message or str(exc), exc.code) from exc
        return Refund.from_json(data)

    async def list_refunds(self, charge_id: str) -> tuple[Refund, ...]:
        """Every refund of a charge, a page of 100 at a time."""
        return await self._list_all("/v1/refunds", Refund.from_json, charge=charge_id)

    async def retrieve_dispute(self, dispute_id: str) -> Dispute:
        return Dispute.from_json(await self._request("get", f"/v1/disputes/{dispute_id}"))

    async def list_disputes(self, charge_id: str) -> tuple[Dispute, ...]:
        """A charge's disputes (a charge has one, or a few at most: one page)."""
        data = await self._request("get", "/v1/disputes", charge=charge_id, limit=MAX_PAGE)
        return tuple(map(Dispute.from_json, data["data"]))

    async def list_undelivered_events(self, *, types: Sequence[str], created_from: int,
                                      starting_after: str | None) -> Page[Event]:
        params: dict[str, Any] = {"delivery_success": False, "types": list(types), "limit": MAX_PAGE,
                                  "created": {"gte": created_from}}
        if starting_after:
            params["starting_after"] = starting_after
        return _page(await self._request("get", "/v1/events", **params), Event.from_json)

    # ---- the catalog ------------------------------------------------------------

    async def price_by_lookup_key(self, lookup_key: str) -> Price | None:
        """The active price with this lookup key, its product expanded."""
        data = await self._request("get", "/v1/prices", lookup_keys=[lookup_key], limit=1,
                                   expand=["data.product"])
        return Price.from_json(data["data"][0]) if data["data"] else None

    async def retrieve_price(self, price_id: str) -> Price:
        return Price.from_json(await self._request("get", f"/v1/prices/{price_id}"))

    async def create_product(self, params: Json, *, idempotency_key: str) -> Product:
        return Product.from_json(await self._request("post", "/v1/products", idempotency_key=idempotency_key,
                                                     **params))

    async def update_product(self, product_id: str, *, name: str, active: bool) -> Product:
        return Product.from_json(await self._request("post", f"/v1/products/{product_id}", name=name,
                                                     active=active))

    async def create_price(self, params: Json, *, idempotency_key: str) -> Price:
        return Price.from_json(await self._request("post", "/v1/prices", idempotency_key=idempotency_key,
                                                   **params))

    async def list_webhook_endpoints(self, *, most: int = 1000) -> list[WebhookEndpoint]:
        """The account's webhook endpoints (a page of 100 at a time, past `most` no further)."""
        found: list[WebhookEndpoint] = []
        params: dict[str, Any] = {"limit": MAX_PAGE}
        while True:
            page = _page(await self._request("get", "/v1/webhook_endpoints", **params), WebhookEndpoint.from_json)
            found += page.items
            if not page.has_more or not page.items or len(found) > most:
                return found
            params["starting_after"] = page.items[-1].id

    # ---- the one way out ----------------------------------------------------------

    async def _list_all(self, path: str, view: Callable[[Json], T], **params: Any) -> tuple[T, ...]:
        found: list[T] = []
        params = {**params, "limit": MAX_PAGE}
        while True:
            data = await self._request("get", path, **params)
            found += map(view, data["data"])
            if not data.get("has_more") or not data["data"]:
                return tuple(found)
            params["starting_after"] = data["data"][-1]["id"]

    async def _request(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        """Stripe's JSON answer to one call."""
        if self.limiter is not None:
            await self.limiter.acquire()
        self.calls += 1
        request = _request_calls.get()
        if request is not None:
            request[0] += 1
        try:
            response = await self._client.raw_request_async(method, path, **params)
        except UNAVAILABLE as exc:
            self.errors += 1
            log.warning("stripe unavailable: %s %s", type(exc).__name__, exc.user_message or "")
            raise PaymentsUnavailable(f"{type(exc).__name__}: {exc.user_message or exc}") from exc
        except stripe.IdempotencyError as exc:
            raise IdempotencyConflict(str(exc)) from exc
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                raise NotFound(str(exc), exc.param) from exc
            raise
        return response.data


def _page(data: Json, view: Callable[[Json], T]) -> Page[T]:
    return Page(tuple(map(view, data["data"])), bool(data.get("has_more")))

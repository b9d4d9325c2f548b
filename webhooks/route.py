"""POST /stripe/webhook: verify, record, dispatch, answer.

2xx tells Stripe to stop; anything else makes it retry. So: a bad signature or body
is 400 (retrying will not help) with no store call at all, checked before the rate limit; an event already done is 200; a
failure while processing is 500, after releasing the claim so the retry can succeed.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from commerce.payments import start_counting as start_stripe_counting
from observability import DEAD_LETTERS, WEBHOOK_EVENTS, log_line
from ratelimit import Limited, client_ip, hit
from store import StoreError
from store.metered import start_counting
from webhooks import receipts
from webhooks.handlers import handle
from webhooks.signature import BadSignature, verify_signature

log = logging.getLogger("gateway.webhooks")
MAX_BODY = 256 * 1024
BUSY_WAIT_SECONDS = 5.0


def _answer(status: int, label: str | None = None, **body: object) -> JSONResponse:
    """The response; `label` (duplicate, dead-letter, the handler's outcome...) names it in
    the event's log line and metrics."""
    headers = {"x-outcome": label} if label else None
    return JSONResponse(body, status_code=status, headers=headers)


async def stripe_webhook(request: Request) -> JSONResponse:
    services = getattr(request.app.state, "services", None)
    if services is None:  # a delivery during start-up: Stripe will retry
        return _answer(503, error="starting up; retry")
    settings = services.settings
    counts = start_counting(), start_stripe_counting()  # for the event's log line
    # The signature first: a delivery that is not Stripe's costs an HMAC, never a store
    # call (not even the rate limit's counter, which is a write).
    try:
        payload = await _read_body(request)
    except ValueError as exc:
        return _answer(400, error=str(exc))
    except ClientDisconnect:
        return _answer(400, error="client disconnected")
    try:
        verify_signature(request.headers.get("stripe-signature"), payload,
                         services.webhook_secrets, tolerance=settings.stripe_webhook_tolerance,
                         now=int(time.time()))
        event = _parse_event(payload)
    except (BadSignature, ValueError) as exc:
        log.warning("webhook refused: %s", exc)
        return _answer(400, error=str(exc))
    try:
        await hit(services.store, client_ip(request, services.trusted_proxies), "webhook",
                  settings.rate_limit_webhooks)
    except Limited as limited:
        return JSONResponse({"error": "rate limited"}, status_code=429,
                            headers={"Retry-After": str(limited.retry_after)})
    except StoreError:
        return _answer(503, error="store unavailable")
    return await _process(services, event, counts)


async def _process(services, event: dict, counts: tuple) -> JSONResponse:
    started = time.perf_counter()
    store_calls, stripe_calls = counts
    response = await _handle(services, event)
    outcome = response.headers.get("x-outcome", str(response.status_code))
    WEBHOOK_EVENTS.labels(event["type"][:60], outcome).inc()
    if outcome == "dead-letter":
        DEAD_LETTERS.inc()
    log_line("webhook", eventId=event["id"], type=event["type"][:60], outcome=outcome,
             status=response.status_code, ms=round((time.perf_counter() - started) * 1000, 2),
             storeCalls=sum(store_calls.values()), stripeCalls=stripe_calls[0])
    return response


async def _handle(services, event: dict) -> JSONResponse:
    store, payments = services.store, services.payments
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    try:
        lease = services.settings.stripe_webhook_lease_seconds
        while (claim := await receipts.claim(store, event["id"], event["type"], lease=lease)) == "busy":
            if time.monotonic() > deadline:
                return _answer(503, error="event is being processed; retry later")
            await asyncio.sleep(0.05)
    except StoreError as exc:
        log.error("webhook %s: store unavailable: %s", event["id"], exc)
        return _answer(503, error="store unavailable")
    if claim == "done":
        return _answer(200, "duplicate", received=True, duplicate=True)
    try:
        outcome = await handle(store, payments, event)
        await receipts.finish(store, event["id"], event["type"], outcome)
    except Exception as exc:  # noqa: BLE001 - any failure: release, count, let Stripe retry
        log.exception("webhook %s (%s) failed", event["id"], event["type"])
        try:
            dead = await receipts.fail(store, event, f"{type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 - the store itself is down; the lease will expire
            log.exception("webhook %s: could not record the failure", event["id"])
            dead = False
        if dead:
            return _answer(200, "dead-letter", received=True, deadLetter=True)
        return _answer(500, "failed", error="processing failed; retry")
    return _answer(200, outcome, received=True, outcome=outcome)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise ValueError("body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ValueError("body too large")
    return bytes(body)


def _parse_event(payload: bytes) -> dict:
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise ValueError("body is not JSON") from None
    if not isinstance(event, dict):
        raise ValueError("body is not an event object")
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
        raise ValueError("event id missing or malformed")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise ValueError("event type missing or malformed")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict) \
            or not isinstance(data["object"].get("id"), str):
        raise ValueError("event data.object missing")
    return event

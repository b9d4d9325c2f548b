"""POST /stripe/webhook: verify, record, dispatch, answer.

2xx tells Stripe to stop; anything else makes it retry. So: a bad signature or body
is 400 (retrying will not help) with no store call at all, checked before the rate limit;
an event already done is 200; a failure while processing is 500, after releasing the claim
so the retry can succeed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from payments import Event
from payments import start_counting as start_stripe_counting
from store import StoreError
from store.metered import start_counting
from telemetry import logs
from telemetry.metrics import DEAD_LETTERS, WEBHOOK_EVENTS, log_line
from web.ratelimit import Limited, client_ip, hit
from webhooks import receipts
from webhooks.handlers import apply_event
from webhooks.signature import BadSignature, verify_signature

log = logging.getLogger("gateway.webhooks")
MAX_BODY = 256 * 1024
BUSY_WAIT_SECONDS = 5.0
TOO_LARGE = "body too large"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the route answers, and `outcome`, the one word its log line and metrics use
    (bad-signature, rate-limited, duplicate, dead-letter, the handler's outcome...)."""

    status: int
    outcome: str
    body: dict = field(default_factory=dict)
    headers: dict | None = None


def _refused(status: int, outcome: str, error: str, **headers: str) -> Answer:
    return Answer(status, outcome, {"error": error, "requestId": logs.request_id.get()}, headers or None)


async def stripe_webhook(request: Request) -> JSONResponse:
    """Every answer, refused ones included, gets one JSON log line and one count."""
    started = time.perf_counter()
    counts = start_counting(), start_stripe_counting()  # for the event's log line
    event: dict = {}
    answer = await _answer(request, event)
    store_calls, stripe_calls = counts
    event_type = str(event.get("type", "-"))[:60]
    WEBHOOK_EVENTS.labels(event_type, answer.outcome).inc()
    if answer.outcome == "dead-letter":
        DEAD_LETTERS.inc()
    log_line("webhook", eventId=event.get("id"), type=event_type, outcome=answer.outcome,
             status=answer.status, ms=round((time.perf_counter() - started) * 1000, 2),
             storeCalls=sum(store_calls.values()), stripeCalls=stripe_calls[0],
             **({"reason": answer.body["error"]} if answer.status >= 400 else {}))
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


async def _answer(request: Request, event: dict) -> Answer:
    """Check the delivery, then process it; `event` is filled in once it is known."""
    services = getattr(request.app.state, "services", None)
    if services is None:  # a delivery during start-up: Stripe will retry
        return _refused(503, "starting-up", "starting up; retry")
    settings = services.settings
    # The signature first: a delivery that is not Stripe's costs an HMAC, never a store
    # call (not even the rate limit's counter, which is a write).
    try:
        payload = await _read_body(request)
    except ValueError as exc:
        return _refused(400, "too-large", str(exc))
    except ClientDisconnect:
        return _refused(400, "client-disconnected", "client disconnected")
    try:
        verify_signature(request.headers.get("stripe-signature"), payload,
                         services.webhook_secrets, tolerance=settings.stripe_webhook_tolerance,
                         now=int(time.time()))
    except BadSignature as exc:
        log.warning("webhook refused: %s", exc)
        return _refused(400, "bad-signature", str(exc))
    try:
        event.update(_parse_event(payload))
    except ValueError as exc:
        log.warning("webhook refused: %s", exc)
        return _refused(400, "bad-event", str(exc))
    try:
        await hit(services.store, client_ip(request, services.trusted_proxies), "webhook",
                  settings.rate_limit_webhooks)
    except Limited as limited:
        return _refused(429, "rate-limited", "rate limited", **{"Retry-After": str(limited.retry_after)})
    except StoreError:
        return _refused(503, "store-unavailable", "store unavailable")
    return await _process(services, event)


async def _process(services, event: dict) -> Answer:
    store, payments = services.store, services.payments
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    pause = 0.05
    try:
        lease = services.settings.stripe_webhook_lease_seconds
        while (claim := await receipts.claim(store, event["id"], event["type"], lease=lease)) == "busy":
            if time.monotonic() > deadline:
                return _refused(503, "busy", "event is being processed; retry later")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)  # a few looks, not one every 50 ms
    except StoreError as exc:
        log.error("webhook %s: store unavailable: %s", event["id"], exc)
        return _refused(503, "store-unavailable", "store unavailable")
    if claim == "done":
        return Answer(200, "duplicate", {"received": True, "duplicate": True})
    try:
        outcome = await apply_event(store, payments, Event.from_json(event))
        await receipts.finish(store, event["id"], event["type"], outcome)
    except Exception as exc:
        log.exception("webhook %s (%s) failed", event["id"], event["type"])
        try:
            dead = await receipts.fail(store, event, f"{type(exc).__name__}: {exc}",
                                       dead_after=services.settings.stripe_webhook_dead_letter_after_seconds)
        except Exception:
            log.exception("webhook %s: could not record the failure", event["id"])
            dead = False
        if dead:
            return Answer(200, "dead-letter", {"received": True, "deadLetter": True})
        if isinstance(exc, StoreError):  # the store is down or overloaded: retryable, say so
            return _refused(503, "store-unavailable", "store unavailable; retry")
        return _refused(500, "failed", "processing failed; retry")
    return Answer(200, outcome, {"received": True, "outcome": outcome})


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise ValueError(TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ValueError(TOO_LARGE)
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
    # data.object may have no id (balance.available, which `stripe listen` forwards): such an
    # event is acknowledged, so Stripe does not retry it for days
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise ValueError("event data.object missing")
    return event

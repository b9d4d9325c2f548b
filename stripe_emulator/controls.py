"""Test controls under /_emulator (JSON or form bodies): webhook delivery, faults, reset,
and the test helpers that settle payments and open or close disputes. Bad input is a 400
with a message, never a 500."""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stripe_emulator import clock as clock_module
from stripe_emulator.checkout.settle import open_session, settle, settle_async
from stripe_emulator.errors import invalid, missing
from stripe_emulator.forms import decode
from stripe_emulator.resources.disputes import close_dispute, move_dispute, open_dispute
from stripe_emulator.resources.payments import fail_refund
from stripe_emulator.state import public

if TYPE_CHECKING:
    from stripe_emulator.app import Emulator

MAX_BODY = 64 * 1024
MAX_SEED = 2**63


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise invalid("Body too large.")
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("The body is not UTF-8.") from None
    if not request.headers.get("content-type", "").startswith("application/json"):
        return decode(text)
    try:
        data = json.loads(text)
    except ValueError:
        raise invalid("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid("The body must be a JSON object.")
    return data


def _known(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        name = str(sorted(unknown)[0])[:40]
        raise invalid(f"Unknown setting: {name} (known: {', '.join(sorted(allowed))}).", param=name)


def _rate(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = -1.0
    if isinstance(value, bool) or not 0 <= rate <= 1:
        raise invalid(f"{name} must be a number from 0 to 1.", param=name)
    return rate


def _int(data: dict[str, Any], name: str, maximum: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isascii() \
            or not str(value).isdigit() or int(value) > maximum:
        raise invalid(f"{name} must be an integer from 0 to {maximum}.", param=name)
    return int(value)


def _bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise invalid(f"{name} must be true or false.", param=name)


async def webhooks(request: Request) -> JSONResponse:
    emulator = _emulator(request)
    config = emulator.deliverer.config
    if request.method == "POST":
        data = await _body(request)
        _known(data, {"urls", "mode", "duplicate", "reorder", "undelivered_rate", "seed"})
        urls = data.get("urls", config.urls)
        if not isinstance(urls, list) or not all(
                isinstance(u, str) and u.startswith(("http://", "https://")) and len(u) < 2000 for u in urls):
            raise invalid("urls must be a list of http(s) URLs.", param="urls")
        mode = data.get("mode", config.mode)
        if mode not in ("deliver", "off", "paused"):
            raise invalid("mode must be deliver, off or paused.", param="mode")
        duplicate = _int(data, "duplicate", 10)
        reorder = _bool(data, "reorder")
        rate = _rate(data, "undelivered_rate")
        seed = _int(data, "seed", MAX_SEED)
        config.urls, config.mode = urls, mode  # all checked first: a bad request changes nothing
        if duplicate is not None:
            config.duplicate = duplicate
        if reorder is not None:
            config.reorder = reorder
        if rate is not None:
            config.undelivered_rate = rate
        if seed is not None:
            config.rng = random.Random(seed)
    return JSONResponse({**config.settings(), "secret": emulator.webhook_secret})


async def flush(request: Request) -> JSONResponse:
    return JSONResponse({"flushed": await _emulator(request).deliverer.flush()})


async def faults(request: Request) -> JSONResponse:
    settings = _emulator(request).faults
    if request.method == "POST":
        data = await _body(request)
        _known(data, {"latency_ms", "rate_429", "rate_500", "rate_drop", "seed"})
        latency = _int(data, "latency_ms", 60_000)
        rates = {name: _rate(data, name) for name in ("rate_429", "rate_500", "rate_drop")}
        seed = _int(data, "seed", MAX_SEED)
        merged = {name: getattr(settings, name) if rate is None else rate for name, rate in rates.items()}
        if sum(merged.values()) > 1:
            raise invalid("rate_429 + rate_500 + rate_drop must be at most 1.")
        for name, rate in merged.items():
            setattr(settings, name, rate)
        if latency is not None:
            settings.latency_ms = latency
        if seed is not None:
            settings.rng = random.Random(seed)
    return JSONResponse(settings.settings())


MAX_CLOCK_MOVE = 400 * 86400


async def clock(request: Request) -> JSONResponse:
    """GET: the emulator's now. POST {advance: seconds} (forward) or {set: epoch seconds}
    (anywhere from the real time on: back to it ends a test's time travel; what expired
    stays expired), then expire every open session now past its expires_at, each with
    checkout.session.expired. Answers {now, offset, expired}."""
    emulator = _emulator(request)
    expired = 0
    if request.method == "POST":
        data = await _body(request)
        _known(data, {"advance", "set"})
        if ("advance" in data) == ("set" in data):
            raise invalid("Give one of advance (seconds) or set (epoch seconds).")
        if "advance" in data:
            offset = emulator.clock.offset + (_int(data, "advance", MAX_CLOCK_MOVE) or 0)
        else:
            target = _int(data, "set", 2**40)
            assert target is not None
            offset = target - clock_module.Clock().now()
        if not 0 <= offset <= MAX_CLOCK_MOVE:
            raise invalid(f"The clock runs from the real time to {MAX_CLOCK_MOVE // 86400} days ahead.",
                          param="set" if "set" in data else "advance")
        emulator.clock.offset = offset
        expired = emulator.expire_overdue()
    return JSONResponse({"now": emulator.clock.now(), "offset": emulator.clock.offset, "expired": expired})


async def reset(request: Request) -> JSONResponse:
    _emulator(request).reset()
    return JSONResponse({"reset": True})


async def pay(request: Request) -> JSONResponse:
    state = _emulator(request).state
    session = open_session(state, request.path_params["id"])
    data = await _body(request)
    for name, value in data.items():
        if not isinstance(value, str):
            raise invalid(f"{str(name)[:40]} must be a string.", param=str(name)[:40])
    settle(state, session, data)
    return JSONResponse(public(session))


async def async_payment(request: Request) -> JSONResponse:
    state = _emulator(request).state
    session = open_session(state, request.path_params["id"])
    data = await _body(request)
    _known(data, {"outcome"})
    settle_async(state, session, data.get("outcome"))
    return JSONResponse(public(session))


async def dispute(request: Request) -> JSONResponse:
    state = _emulator(request).state
    charge = state.charges.get(request.path_params["id"])
    if charge is None:
        raise missing("charge", request.path_params["id"])
    data = await _body(request)
    _known(data, {"amount", "reason", "status"})
    amount = _int(data, "amount", charge["amount"])
    reason = data.get("reason", "fraudulent")
    status = data.get("status", "needs_response")
    if not isinstance(reason, str) or not isinstance(status, str):
        raise invalid("reason and status must be strings.", param="reason")
    return JSONResponse(public(open_dispute(state, charge, amount, reason, status)))


async def _control_of(request: Request, collection: str, kind: str, allowed: set[str]) -> tuple[Any, dict, dict]:
    """The state, the object the path names (404 if none) and the checked body."""
    state = _emulator(request).state
    found = getattr(state, collection).get(request.path_params["id"])
    if found is None:
        raise missing(kind, request.path_params["id"])
    data = await _body(request)
    _known(data, allowed)
    return state, found, data


async def decide_dispute(request: Request) -> JSONResponse:
    state, found, data = await _control_of(request, "disputes", "dispute", {"outcome"})
    if data.get("outcome") not in ("won", "lost"):
        raise invalid("outcome must be won or lost.", param="outcome")
    close_dispute(state, found, data["outcome"])
    return JSONResponse(public(found))


async def dispute_status(request: Request) -> JSONResponse:
    state, found, data = await _control_of(request, "disputes", "dispute", {"status"})
    if not isinstance(data.get("status"), str):
        raise invalid("status must be one of Stripe's dispute statuses.", param="status")
    move_dispute(state, found, data["status"])
    return JSONResponse(public(found))


async def refund_failure(request: Request) -> JSONResponse:
    state, found, data = await _control_of(request, "refunds", "refund", {"failure_reason"})
    reason = data.get("failure_reason", "lost_or_stolen_card")
    if not isinstance(reason, str):
        raise invalid("failure_reason must be a string.", param="failure_reason")
    fail_refund(state, found, reason)
    return JSONResponse(public(found))


routes = [
    Route("/_emulator/webhooks", webhooks, methods=["GET", "POST"]),
    Route("/_emulator/webhooks/flush", flush, methods=["POST"]),
    Route("/_emulator/faults", faults, methods=["GET", "POST"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/clock", clock, methods=["GET", "POST"]),
    Route("/_emulator/checkout/sessions/{id}/pay", pay, methods=["POST"]),
    Route("/_emulator/checkout/sessions/{id}/async_payment", async_payment, methods=["POST"]),
    Route("/_emulator/charges/{id}/dispute", dispute, methods=["POST"]),
    Route("/_emulator/disputes/{id}/close", decide_dispute, methods=["POST"]),
    Route("/_emulator/disputes/{id}/status", dispute_status, methods=["POST"]),
    Route("/_emulator/refunds/{id}/fail", refund_failure, methods=["POST"]),
]

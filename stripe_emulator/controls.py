"""Test controls under /_emulator (JSON or form bodies): webhook delivery, faults,
reset, and the test helpers that settle payments and open or close disputes."""

from __future__ import annotations

import random
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stripe_emulator import checkout, resources
from stripe_emulator.errors import StripeError, invalid
from stripe_emulator.state import public


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 64 * 1024:
        raise invalid("Body too large.")
    if not raw.strip():
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        import json

        try:
            data = json.loads(raw)
        except ValueError:
            raise invalid("Body is not JSON.") from None
        if not isinstance(data, dict):
            raise invalid("Body must be a JSON object.")
        return data
    from stripe_emulator.forms import decode

    return decode(raw.decode("utf-8", "replace"))


def _rate(data: dict, name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise invalid(f"{name} must be a number from 0 to 1.", param=name) from None
    if not 0 <= rate <= 1:
        raise invalid(f"{name} must be a number from 0 to 1.", param=name)
    return rate


def _int(data: dict, name: str, maximum: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
            or int(value) > maximum:
        raise invalid(f"{name} must be an integer from 0 to {maximum}.", param=name)
    return int(value)


async def webhooks(request: Request) -> JSONResponse:
    emulator = request.app.state.emulator
    config = emulator.deliverer.config
    if request.method == "POST":
        data = await _body(request)
        unknown = set(data) - {"urls", "mode", "duplicate", "reorder", "undelivered_rate", "seed"}
        if unknown:
            raise invalid(f"Unknown setting: {sorted(unknown)[0][:40]}")
        if "urls" in data:
            urls = data["urls"]
            if not isinstance(urls, list) or not all(isinstance(u, str) and u.startswith(("http://", "https://"))
                                                     for u in urls):
                raise invalid("urls must be a list of http(s) URLs.", param="urls")
            config.urls = urls
        if "mode" in data:
            if data["mode"] not in ("deliver", "off", "paused"):
                raise invalid("mode must be deliver, off or paused.", param="mode")
            config.mode = data["mode"]
        if (duplicate := _int(data, "duplicate", 10)) is not None:
            config.duplicate = duplicate
        if "reorder" in data:
            if not isinstance(data["reorder"], bool):
                raise invalid("reorder must be true or false.", param="reorder")
            config.reorder = data["reorder"]
        if (rate := _rate(data, "undelivered_rate")) is not None:
            config.undelivered_rate = rate
        if (seed := _int(data, "seed", 2**31)) is not None:
            config.rng = random.Random(seed)
    return JSONResponse({"urls": config.urls, "mode": config.mode, "duplicate": config.duplicate,
                         "reorder": config.reorder, "undelivered_rate": config.undelivered_rate,
                         "secret": emulator.webhook_secret})


async def flush(request: Request) -> JSONResponse:
    sent = await request.app.state.emulator.deliverer.flush()
    return JSONResponse({"flushed": sent})


async def faults(request: Request) -> JSONResponse:
    emulator = request.app.state.emulator
    data = await _body(request)
    unknown = set(data) - {"latency_ms", "rate_429", "rate_500", "rate_drop", "seed"}
    if unknown:
        raise invalid(f"Unknown fault: {sorted(unknown)[0][:40]}")
    settings = emulator.faults
    if (latency := _int(data, "latency_ms", 60_000)) is not None:
        settings.latency_ms = latency
    for name in ("rate_429", "rate_500", "rate_drop"):
        if (rate := _rate(data, name)) is not None:
            setattr(settings, name, rate)
    if (seed := _int(data, "seed", 2**31)) is not None:
        settings.rng = random.Random(seed)
    return JSONResponse({"latency_ms": settings.latency_ms, "rate_429": settings.rate_429,
                         "rate_500": settings.rate_500, "rate_drop": settings.rate_drop})


async def reset(request: Request) -> JSONResponse:
    request.app.state.emulator.reset()
    return JSONResponse({"reset": True})


async def pay(request: Request) -> JSONResponse:
    state = request.app.state.emulator.state
    session = checkout.open_session(state, request.path_params["id"])
    checkout.settle(state, session, {k: v for k, v in (await _body(request)).items() if isinstance(v, str)})
    return JSONResponse(public(session))


async def async_payment(request: Request) -> JSONResponse:
    state = request.app.state.emulator.state
    session = checkout.open_session(state, request.path_params["id"])
    checkout.settle_async(state, session, str((await _body(request)).get("outcome")))
    return JSONResponse(public(session))


async def dispute(request: Request) -> JSONResponse:
    state = request.app.state.emulator.state
    charge = state.charges.get(request.path_params["id"])
    if charge is None:
        raise StripeError(404, "invalid_request_error", "No such charge.", code="resource_missing", param="id")
    data = await _body(request)
    amount = _int(data, "amount", charge["amount"])
    reason = str(data.get("reason") or "fraudulent")[:50]
    return JSONResponse(public(resources.open_dispute(state, charge, amount, reason)))


async def close_dispute(request: Request) -> JSONResponse:
    state = request.app.state.emulator.state
    found = state.disputes.get(request.path_params["id"])
    if found is None:
        raise StripeError(404, "invalid_request_error", "No such dispute.", code="resource_missing", param="id")
    outcome = (await _body(request)).get("outcome")
    if outcome not in ("won", "lost"):
        raise invalid("outcome must be won or lost.", param="outcome")
    resources.close(state, found, outcome)
    return JSONResponse(public(found))


routes = [
    Route("/_emulator/webhooks", webhooks, methods=["GET", "POST"]),
    Route("/_emulator/webhooks/flush", flush, methods=["POST"]),
    Route("/_emulator/faults", faults, methods=["POST"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/checkout/sessions/{id}/pay", pay, methods=["POST"]),
    Route("/_emulator/checkout/sessions/{id}/async_payment", async_payment, methods=["POST"]),
    Route("/_emulator/charges/{id}/dispute", dispute, methods=["POST"]),
    Route("/_emulator/disputes/{id}/close", close_dispute, methods=["POST"]),
]

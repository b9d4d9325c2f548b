"""The /v1 endpoint: faults, auth, form decoding, routing to a resource handler,
idempotency keys, and Stripe's response headers."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stripe_emulator.errors import StripeError, invalid
from stripe_emulator.faults import DroppedResponse, fault_error
from stripe_emulator.forms import decode
from stripe_emulator.idempotency import fingerprint
from stripe_emulator.ids import request_id as new_request_id
from stripe_emulator.resources import EXTRAS, ROUTES, Call, Handler

if TYPE_CHECKING:
    from stripe_emulator.app import Emulator

log = logging.getLogger("stripe_emulator")
MAX_BODY = 512 * 1024
_ROUTES = [(method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9_-]+)", path) + "$"), handler)
           for method, path, handler in ROUTES]


async def handle(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    request_id = new_request_id()
    try:
        fault = emulator.faults.roll()
        if fault == "drop":
            return DroppedResponse()  # type: ignore[return-value]  # an ASGI app, as Starlette allows
        if fault is not None:
            raise fault_error(fault)
        _authenticate(request)
        params = await _params(request)
        handler, ids = _route(request.method, "/v1/" + request.path_params["path"])
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        if key is None:
            await _latency(emulator)
            return _answer(emulator, handler, ids, params, request, request_id)
        return await _idempotent(emulator, key, handler, ids, params, request, request_id)
    except StripeError as exc:
        response = exc.response(request_id)
        response.headers["Stripe-Version"] = _version(request, emulator)
        return response
    except Exception:  # a bug here: still answer in Stripe's envelope, and say where in the log
        log.exception("stripe emulator: %s %s failed", request.method, request.url.path)
        return StripeError(500, "api_error", "The Stripe emulator failed on this request; its log has the "
                           "traceback.").response(request_id)


async def _latency(emulator: Emulator) -> None:
    if emulator.faults.latency_ms:
        await asyncio.sleep(emulator.faults.latency_ms / 1000)


def _answer(emulator: Emulator, handler: Handler, ids: dict[str, str], params: dict[str, Any],
            request: Request, request_id: str) -> Response:
    emulator.state.request = (request_id, request.headers.get("idempotency-key"))
    try:
        body = handler(Call(emulator.state, params, ids, emulator.base_url(request), EXTRAS))
    finally:
        emulator.state.request = (None, None)
    return JSONResponse(body, headers={"Request-Id": request_id, "Stripe-Version": _version(request, emulator)})


async def _idempotent(emulator: Emulator, key: str, handler: Handler, ids: dict[str, str],
                      params: dict[str, Any], request: Request, request_id: str) -> Response:
    print_ = fingerprint(request.method, request.path_params["path"], params)
    stored = emulator.idempotency.begin(key, print_)
    if stored is not None:
        return Response(stored.body, status_code=stored.status, media_type="application/json", headers={
            "Idempotent-Replayed": "true", "Idempotency-Key": key, "Request-Id": stored.request_id,
            "Stripe-Version": _version(request, emulator)})
    try:
        await _latency(emulator)  # inside the key's flight, so a concurrent retry sees 409
        try:
            response = _answer(emulator, handler, ids, params, request, request_id)
        except StripeError as exc:
            response = exc.response(request_id)
            response.headers["Stripe-Version"] = _version(request, emulator)
    except BaseException:
        emulator.idempotency.abandon(key)
        raise
    emulator.idempotency.finish(key, print_, response.status_code, bytes(response.body), request_id)
    response.headers["Idempotency-Key"] = key
    return response


def _route(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    known_path = False
    for route_method, pattern, handler in _ROUTES:
        match = pattern.match(path)
        if match:
            known_path = True
            if route_method == method:
                return handler, match.groupdict()
    if known_path:
        raise invalid(f"{method} is not allowed on {path[:100]}.")
    raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path[:100]}). "
                      "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.")


def _authenticate(request: Request) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise StripeError(401, "invalid_request_error", "You did not provide an API key. You need to provide "
                          "your API key in the Authorization header, using Bearer auth "
                          "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
    if not key.startswith("sk_test_"):
        shown = key[:8] + "*" * min(20, max(0, len(key) - 12)) + key[-4:] if len(key) > 12 else "****"
        raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {shown}. The Stripe "
                          "emulator accepts secret test keys (sk_test_...) only.", code="api_key_invalid")


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
        raise invalid("The request body is not UTF-8 form data.") from None
    return {**query, **decode(text)}


def _version(request: Request, emulator: Emulator) -> str:
    return request.headers.get("stripe-version", emulator.state.api_version)[:64]

"""HTTP hygiene for every response: a request id, a request body limit, a deadline for
receiving the body, and security headers."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import secrets
import time
import types
from collections.abc import Awaitable, Generator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry import logs

# An incoming X-Request-Id is kept when it is short and plain (it lands in logs and headers).
REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{8,64}$")

API_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class _Ids:
    """New request ids: 32 hex digits, a random per-process half and a counting half, so
    unique without a system call each (uuid4 reads os.urandom: ~2 us of a ~100 us answer).
    A forked child draws its own half."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count(1)

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


new_request_id = _Ids().new


class RequestIds:
    """Gives every HTTP request an id: the caller's X-Request-Id when it is sane, else a new
    one. It is echoed on the response, set on `request.state.request_id`, and put on every
    log line made while serving the request (logs.request_id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = given.decode() if REQUEST_ID.match(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        token = logs.request_id.set(request_id)
        try:
            await self.app(scope, receive, sending)
        finally:
            logs.request_id.reset(token)


class BodyRefused(Exception):
    """Raised out of receive(): this middleware answers (apps must let it through)."""


class BodyTooLarge(BodyRefused):
    pass


class BodyTooSlow(BodyRefused):
    pass


class HttpHygiene:
    """Refuses request bodies over `max_body` bytes (413, before the app reads past the
    limit) and bodies that take longer than `body_timeout` seconds to arrive (408: a
    client that trickles its body, or never sends it, no longer holds a connection and a
    task open for ever), and adds security headers to every response (HSTS in production)."""

    def __init__(self, app: ASGIApp, *, max_body: int, production: bool,
                 own_limits: tuple[str, ...] = (), body_timeout: float = 10.0) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.own_limits = own_limits  # paths whose routes enforce their own body size limits
        self.headers = API_HEADERS + ([HSTS] if production else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit_size = scope["path"] not in self.own_limits
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if limit_size and declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._refuse(scope, send, 413, f"Request body over {self.max_body} bytes.")
            return
        deadline = time.monotonic() + self.body_timeout
        received = 0
        body_done = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            finished, message = _start(receive())  # the body is usually here: then no timer
            try:
                if not finished:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        message = await message
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if limit_size and received > self.max_body:
                    raise BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        sending = self._with_headers(send)

        async def with_headers(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await sending(message)

        try:
            await self.app(scope, limited_receive, with_headers)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send, 413, f"Request body over {self.max_body} bytes.")
        except BodyTooSlow:
            if not started:
                await self._refuse(scope, send, 408, f"The request body did not arrive within "
                                                     f"{self.body_timeout:g} s.")

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)
        return sending

    async def _refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        """The JSON error shape, with the request id RequestIds gave (it also echoes it)."""
        request_id = scope.get("state", {}).get("request_id")
        body = json.dumps({"data": None, "errors": [{"message": message, "extensions": {
            "code": "BAD_USER_INPUT", "requestId": request_id}}]}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"), *self.headers]})
        await send({"type": "http.response.body", "body": body})



def _start(coroutine: Awaitable[Message]) -> tuple[bool, Any]:
    """Run a coroutine until it first waits: (True, its result) when it finished without
    waiting (receive() when the body has arrived: no timer is needed), else (False, an
    awaitable that goes on from there)."""
    if not isinstance(coroutine, types.CoroutineType):
        return False, coroutine
    try:
        pending = coroutine.send(None)
    except StopIteration as done:
        return True, done.value
    return False, _resume(coroutine, pending)


@types.coroutine
def _resume(coroutine: Any, pending: Any) -> Generator[Any, Any, Message]:
    """The rest of a started coroutine: what it waits for goes to the task; what the task
    sends or throws (a deadline's cancellation) goes back into it."""
    while True:
        try:
            sent = yield pending
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:
            try:
                pending = coroutine.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                pending = coroutine.send(sent)
            except StopIteration as done:
                return done.value

"""Answering a kept answer before Strawberry's view: the fast path's hits (web/fastpath.py)
from the request's bytes.

For POST /graphql with a JSON body, or GET with a documentId, this reads the request as the
view would (web/trusted.trusted_request for ids; free text only in its plain form: query,
variables, operationName), verifies the bearer token (web/auth.TokenVerifier, which
remembers verified tokens), and asks the fast path for the entry of (viewer, document,
variables). When there is one, it answers it: the same bytes and headers as the view
(Cache-Control by web/trusted.cache_control), the same log line and metrics. Anything else,
a bad token, a malformed request, a mutation, a miss, falls through to the view with the
body it read, which answers it as before (errors included): the view is the only place
where a request is refused.

What this saves a hit: the view's request adapter, context and loaders, its JSON handling
and response object (about three quarters of a hit's time).
"""

from __future__ import annotations

import logging
import time
from collections import Counter as CounterType
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import Message, Receive, Scope, Send

from store.metered import start_counting
from telemetry.metrics import REQUEST_SECONDS, log_line, operation_label, user_hash
from web.auth import AuthError, bearer_token
from web.fastpath import CacheKey, FastPathCache, variables_key, viewer_key
from web.trusted import (
    MAX_JSON_DEPTH,
    Mode,
    TrustedDocuments,
    TrustedRequestRefused,
    json_depth,
    public_cache_control,
    trusted_request,
)

log = logging.getLogger("gateway")

FREE_TEXT_KEYS = frozenset({"query", "variables", "operationName"})
# A key the view would look into (and refuse, nested too deep) is not ignored here.
BY_ID_KEYS = frozenset({"documentId", "variables", "operationName", "query", "extensions"})


@dataclass(frozen=True, slots=True)
class _Hit:
    body: bytes
    cache_control: bytes
    operation: str | None
    user: str | None
    calls: CounterType[str]


class HotPath:
    """`await hot(scope, receive, send)`: None when it answered, else the `receive` to
    hand on (it gives the view the body this read)."""

    def __init__(self, cache: FastPathCache, trusted: TrustedDocuments, mode: Mode) -> None:
        self.cache = cache
        self.trusted = trusted
        self.free_text = mode == "allow"  # where only ids run, free text is the view's to refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        started = time.perf_counter()
        method = scope["method"]
        content_type = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"authorization":
                authorization = value
        body = None
        if method == "POST":
            if content_type is None or not content_type.startswith(b"application/json"):
                return receive
            body, receive = await _read_body(receive)
            if body is None:
                return receive
        elif method != "GET" or b"documentId" not in scope["query_string"]:
            return receive
        try:
            hit = await self._kept(scope, method, body, authorization)
        except Exception:  # the view answers (and reports) whatever this could not
            log.exception("the hot path failed on a request; the view answers it")
            return receive
        if hit is None:
            return receive
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(hit.body)).encode()),
            (b"cache-control", hit.cache_control)]})
        await send({"type": "http.response.body", "body": hit.body})
        seconds = time.perf_counter() - started
        operation = operation_label(hit.operation)
        REQUEST_SECONDS.labels(operation).observe(seconds)
        log_line("request", operation=operation, user=user_hash(hit.user), ms=round(seconds * 1000, 2),
                 storeCalls=sum(hit.calls.values()), stripeCalls=0, outcome="ok")
        return None

    async def _kept(self, scope: Scope, method: str, body: bytes | None,
                    authorization: bytes | None) -> _Hit | None:
        """The kept answer to this request, or None: the view answers it."""
        if body is not None:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                return None
        else:
            data = _query_params(scope["query_string"])
        if not isinstance(data, dict) or json_depth(data) > MAX_JSON_DEPTH:
            return None
        key_and_public = self._document(data, method)
        if key_and_public is None:
            return None
        document_key, variables, public = key_and_public
        services = getattr(scope["app"].state, "services", None)
        if services is None:  # opened lazily (AWS Lambda): the view's first request opens them
            return None
        viewer = None
        if authorization is not None:
            try:
                token = bearer_token(authorization.decode("latin-1"))
                viewer = await services.verifier.verify(token) if token is not None else None
            except AuthError:
                return None
        key: CacheKey = (viewer_key(viewer), document_key, variables_key(variables))
        calls = start_counting()
        entry = await self.cache.kept(key, services.store)
        if entry is None:
            return None
        return _Hit(entry.body(), cache_control_bytes(public, method, authorization is not None), entry.operation,
                    viewer.user_id if viewer else None, calls)

    def _document(self, data: dict[str, Any], method: str) -> tuple[Any, Any, bool] | None:
        """(the cache's name of the document, its variables, whether it is public), or None."""
        if "documentId" in data:
            if not data.keys() <= BY_ID_KEYS:
                return None
            try:
                request = trusted_request(data, method, self.trusted)
            except TrustedRequestRefused:
                return None
            document = request.trusted
            if (document is None or document.id not in self.cache.memoizable
                    or request.extensions):  # extensions: the view checks how deep they nest
                return None
            return document.id, request.variables, document.public
        if not self.free_text or method != "POST" or not data.keys() <= FREE_TEXT_KEYS:
            return None
        query, name, variables = data.get("query"), data.get("operationName"), data.get("variables")
        if (not isinstance(query, str) or not isinstance(name, (str, type(None)))
                or not isinstance(variables, (dict, type(None))) or not self.cache.text_memoizable(query, name)):
            return None
        return ("text", name, query), variables, False


_CACHE_CONTROL: dict[tuple[bool, str, bool], bytes] = {}


def cache_control_bytes(public: bool, method: str, authorized: bool) -> bytes:
    """web/trusted's Cache-Control of a successful answer, as header bytes (a few kinds)."""
    key = (public, method, authorized)
    value = _CACHE_CONTROL.get(key)
    if value is None:
        value = _CACHE_CONTROL[key] = public_cache_control(public, method, authorized=authorized,
                                                           failed=False).encode()
    return value


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body, and a receive that gives it again; (None, ...) when the client went
    away (the view then sees the disconnect)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # a disconnect: hand it on
            return None, _replay([message], receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()
    return replayed


def _query_params(query_string: bytes) -> dict[str, Any] | None:
    """The query string as Strawberry's view reads it (the last value of a name wins;
    variables as JSON), or None when the view should say what is wrong."""
    try:
        params: dict[str, Any] = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    except ValueError:
        return None
    if "extensions" in params:
        return None
    if params.get("variables"):
        try:
            params["variables"] = orjson.loads(params["variables"])
        except orjson.JSONDecodeError:
            return None
    return params

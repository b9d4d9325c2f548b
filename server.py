"""The Starlette app: /graphql, /healthz, /readyz, and, when payments are emulated,
the Stripe emulator under /_stripe with plain success and cancel pages.

The lifespan opens the store, reads the catalog, and builds the token verifier and
the Stripe client once per process; requests only borrow them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.http.base import BaseRequestProtocol
from strawberry.types import ExecutionResult

from commerce.catalog import load_catalog
from commerce.catalog_sync import load_catalog_map, save_catalog_map, sync_catalog
from commerce.checkout import CheckoutConfig
from loaders import Loaders
from payments import Payments
from payments import start_counting as start_stripe_counting
from schema import GatewaySchema, build_schema
from schema.errors import coded
from settings import ConfigError, Settings, load_settings, read_stripe_secret, read_webhook_secrets
from store import StoreConfigError, StoreError, TableMissing, open_store
from store.metered import MeteredStore, start_counting
from telemetry.metrics import REQUEST_SECONDS, STORE_ERRORS, STRIPE_ERRORS, log_line, operation_label, user_hash
from web import dev_pages
from web.auth import AuthError, TokenVerifier, bearer_token
from web.context import Context, Services
from web.explorer import Explorer
from web.fastpath import FastPathCache
from web.hotpath import HotPath
from web.middleware import BodyRefused, HttpHygiene, RequestIds
from web.observability import metrics
from web.ratelimit import parse_networks
from web.trusted import (
    MAX_JSON_DEPTH,
    ManifestError,
    Mode,
    TrustedDocument,
    TrustedDocuments,
    TrustedRequestData,
    TrustedRequestRefused,
    cache_control,
    json_depth,
    load_manifest,
    refuse_free_text,
    trusted_request,
    wants_document_id,
)
from webhooks.handlers import HANDLERS
from webhooks.route import stripe_webhook

log = logging.getLogger("gateway")
FastPath = Callable[[TrustedDocument, dict[str, Any] | None, Context], Awaitable[ExecutionResult | None]]
EMULATOR_PATH = "/_stripe"
WEBHOOK_PATH = "/stripe/webhook"
EMULATOR_KEY = "sk_test_emulated_payments"


# Whether this request's verified token has the admin role (set by get_context, which
# Strawberry runs before parse_http_body, in the same task).
_ADMIN_REQUEST: contextvars.ContextVar[bool] = contextvars.ContextVar("admin_request", default=False)


class GatewayGraphQL(GraphQL):
    explorer: Explorer | None = None
    trusted = TrustedDocuments({})
    trusted_mode: Mode = "allow"
    # THE SEAM for the fast path of trusted documents: given the resolved document, its
    # variables and the request's context, an answer, or None to execute as usual.
    fast_path: FastPath | None = None
    free_text_fast_path: FastPathCache | None = None  # free text where it runs (allow mode)
    hot_path: HotPath | None = None  # the fast path's hits, answered before the view

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        return "documentId" not in request.query_params and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        assert self.explorer is not None  # only asked for when graphql_ide is set
        return HTMLResponse(self.explorer.page())

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        services: Services = request.app.state.services
        context = Context(request=request, services=services, request_id=_request_id(request),
                          loaders=Loaders(services.store, services.payments))
        request.state.request_id = context.request_id
        request.state.store_calls = start_counting()
        request.state.stripe_calls = start_stripe_counting()
        request.state.started = time.perf_counter()
        request.state.user = None
        try:
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                context.viewer = await services.verifier.verify(token)
                request.state.user = context.viewer.user_id
        except AuthError as exc:
            context.auth_error = str(exc)
        _ADMIN_REQUEST.set(context.viewer is not None and context.viewer.is_admin)
        return context

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Every answer of /graphql is in the JSON error shape, with a code and a request
        id: Strawberry's own refusals of a request (a body that is not JSON, an unsupported
        content type, ...) are plain text, and anything unforeseen would be Starlette's
        plain-text 500."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self.hot_path is not None:  # a kept answer, or the body it read handed on
            handed_on = await self.hot_path(scope, receive, send)
            if handed_on is None:
                return
            receive = handed_on
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = refusal(request, exc.status_code, exc.reason)
        except TrustedRequestRefused as exc:
            response = refusal(request, exc.status, exc.message, code=exc.code)
        except BodyRefused:  # too large or too slow: HttpHygiene answers
            raise
        except Exception:
            request_id = getattr(request.state, "request_id", None) or _request_id(request)
            log.exception("unexpected error (request %s) outside execution", request_id)
            response = refusal(request, 500, "Unexpected error.", code="INTERNAL_SERVER_ERROR",
                               request_id=request_id)
        response.headers["cache-control"] = cache_control(
            getattr(request.state, "trusted", None), request.method, failed=response.status_code != 200
            or getattr(request.state, "failed", False), authorized="authorization" in request.headers)
        await response(scope, receive, send)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[
            GraphQLRequestData]:
        """The one hook of trusted documents: a request by `documentId` runs the manifest's
        document (web/trusted.py); with TRUSTED_DOCUMENTS=only nothing else does."""
        body = await request.get_body() if request.method == "POST" else None
        if wants_document_id(request.method, request.query_params, body):
            data = self.parse_query_params(request.query_params) if request.method == "GET" else self.parse_json(
                body or b"")
            if not isinstance(data, dict) or "documentId" in data:
                return trusted_request(data, request.method, self.trusted)
        if not _ADMIN_REQUEST.get():  # the shop's own staff may send any document (GraphiQL, admin tools)
            refuse_free_text(self.trusted_mode)
        return await super().parse_http_body(request)

    async def execute_single(self, request: Request, request_adapter: AsyncHTTPRequestAdapter,  # type: ignore[override]
                             sub_response: Response, context: Context, root_value: Any,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        if isinstance(request_data, TrustedRequestData) and request_data.trusted is not None:
            request.state.trusted = request_data.trusted  # for the answer's Cache-Control
            context.trusted = request_data.trusted  # parsed and validated at start (schema/extensions.py)
            if self.fast_path is not None:
                answer = await self.fast_path(request_data.trusted, request_data.variables, context)
                if answer is not None:
                    return answer
        elif self.free_text_fast_path is not None and not request_data.extensions:
            answer = await self.free_text_fast_path.free_text(request_data.query, request_data.operation_name,
                                                              request_data.variables, context)
            if answer is not None:
                return answer
        return await super().execute_single(request, request_adapter, sub_response,
                                            context, root_value, request_data)  # type: ignore[arg-type]

    def parse_json(self, data: str | bytes) -> object:
        try:
            parsed = orjson.loads(data)  # not UTF-8, or nested over 1,024 levels: JSONDecodeError
        except orjson.JSONDecodeError:
            raise HTTPException(400, f"The request is not valid JSON (UTF-8, nested at most {MAX_JSON_DEPTH} "
                                     "levels).") from None
        if json_depth(parsed) > MAX_JSON_DEPTH:
            raise HTTPException(400, f"The request nests JSON more than {MAX_JSON_DEPTH} levels deep.")
        if not isinstance(parsed, (dict, list)):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            request.state.failed = True
            request_id = getattr(request.state, "request_id", None)
            hide = request.app.state.hide_suggestions
            result.errors = [coded(error, request_id, hide_suggestions=hide) for error in result.errors]
        _log_request(request, result)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def _log_request(request: Request, result: ExecutionResult) -> None:
    state = request.state
    started = getattr(state, "started", None)
    if started is None:  # a request that never reached get_context (a parse failure of the body)
        return
    seconds = time.perf_counter() - started
    codes = sorted({(e.extensions or {}).get("code", "?") for e in result.errors or []})
    operation = operation_label(getattr(state, "operation", None))
    REQUEST_SECONDS.labels(operation).observe(seconds)
    if "PAYMENT_PROVIDER_UNAVAILABLE" in codes:
        STRIPE_ERRORS.inc()
    if "SERVICE_UNAVAILABLE" in codes:
        STORE_ERRORS.inc()
    log_line("request", operation=operation, user=user_hash(state.user),
             ms=round(seconds * 1000, 2), storeCalls=sum(state.store_calls.values()),
             stripeCalls=state.stripe_calls[0], outcome="ok" if not codes else ",".join(codes))


def refusal(request: Request, status: int, message: str, *, code: str | None = None,
            request_id: str | None = None) -> Response:
    """A request refused before GraphQL ran, in the usual error shape, and logged."""
    code = code or {404: "NOT_FOUND", 500: "INTERNAL_SERVER_ERROR"}.get(status, "BAD_USER_INPUT")
    request_id = request_id or _request_id(request)
    log_line("request", operation=None, user=None, ms=0, storeCalls=0,  # the record has the request id
             stripeCalls=0, status=status, outcome=code)
    return JSONResponse({"data": None, "errors": [{"message": message, "extensions": {
        "code": code, "requestId": request_id}}]}, status_code=status)  # RequestIds echoes the id


async def http_refusal(request: Request, exc: Exception) -> Response:
    """No such route, or not this method: the usual JSON error shape and a request id, not
    Starlette's plain text."""
    status = getattr(exc, "status_code", 404)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "BAD_USER_INPUT")
    message = {404: "No such route.", 405: f"{request.method} is not allowed here."}.get(status, "Refused.")
    response = refusal(request, status, message, code=code)
    for name, value in (getattr(exc, "headers", None) or {}).items():  # Allow, for a 405
        response.headers[name] = value
    return response


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or uuid.uuid4().hex  # set by RequestIds


def emulated_payments(settings: Settings) -> bool:
    return not settings.production and not (settings.stripe_secret or settings.stripe_secret_parameter)


def checkout_config(settings: Settings) -> CheckoutConfig:
    base = settings.public_url.rstrip("/")
    return CheckoutConfig(
        success_url=settings.checkout_success_url
        or f"{base}{dev_pages.SUCCESS_PATH}?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=settings.checkout_cancel_url or f"{base}{dev_pages.CANCEL_PATH}",
        session_ttl_minutes=settings.session_ttl_minutes,
        shipping_countries=tuple(settings.shipping_countries),
        shipping_rates=tuple(settings.shipping_rates),
        automatic_tax=settings.stripe_automatic_tax, tax_behavior=settings.stripe_tax_behavior,
    )


async def open_services(
    settings: Settings, stack: contextlib.AsyncExitStack, emulator: Any | None
) -> Services:
    catalog = load_catalog(settings.catalog_path)
    store = MeteredStore(await open_store(table=settings.commerce_table, sqlite_path=settings.gateway_db))
    stack.push_async_callback(store.close)
    if emulator is not None:
        payments = Payments(EMULATOR_KEY, api_base="http://stripe-emulator",
                            transport=httpx.ASGITransport(app=emulator.app),
                            timeout=settings.stripe_timeout_seconds,
                            max_network_retries=settings.stripe_max_network_retries)
        stack.push_async_callback(emulator.aclose)
    else:
        secret = await read_stripe_secret(settings)
        payments = Payments(secret, api_base=settings.stripe_api_base, timeout=settings.stripe_timeout_seconds,
                            max_network_retries=settings.stripe_max_network_retries)
    stack.push_async_callback(payments.close)
    if emulator is not None:
        prices, report = await sync_catalog(payments, catalog, tax_behavior=settings.stripe_tax_behavior)
        try:
            await save_catalog_map(store, prices)
        except StoreError as exc:  # keep serving: /readyz says what is wrong
            log.error("could not save the Stripe catalog map: %s", exc)
        log.info("Stripe emulator at %s%s, catalog synced into it: %s", settings.public_url,
                 EMULATOR_PATH, report.summary())
    else:
        try:
            prices = await load_catalog_map(store)
        except StoreError as exc:
            log.error("could not read the Stripe catalog map (checkout uses price data): %s", exc)
            prices = {}
    webhook_secrets = await read_webhook_secrets(settings)
    if emulator is not None:
        webhook_secrets.append(emulator.webhook_secret)
    elif not webhook_secrets:
        log.warning("no STRIPE_WEBHOOK_SECRET: every webhook delivery will be refused")
    return Services(settings=settings, store=store, catalog=catalog, verifier=TokenVerifier(settings),
                    payments=payments, prices=prices, checkout=checkout_config(settings),
                    webhook_secrets=webhook_secrets, emulated=emulator is not None,
                    trusted_proxies=parse_networks(settings.trusted_proxies))


async def check_start(settings: Settings) -> None:
    """What would stop the service, found before it binds a port: a store that cannot open
    as configured (missing table, no region, a corrupt SQLite file) or a malformed Stripe
    key in SSM. ConfigError, one line naming the variable and the fix."""
    try:
        store = await open_store(table=settings.commerce_table, sqlite_path=settings.gateway_db)
    except StoreConfigError as exc:
        raise ConfigError(str(exc)) from None
    await store.close()
    if not emulated_payments(settings):
        await read_stripe_secret(settings)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services = request.app.state.services
    try:
        # an answer within READY_TIMEOUT_SECONDS, whatever the store does (it may not answer)
        await asyncio.wait_for(services.store.ping(), services.settings.ready_timeout_seconds)
    except TimeoutError:
        log.warning("not ready: the store did not answer within %s s", services.settings.ready_timeout_seconds)
        return JSONResponse({"status": "unavailable", "store": "unreachable",
                             "detail": f"no answer within {services.settings.ready_timeout_seconds:g} s"},
                            status_code=503)
    except TableMissing as exc:
        log.error("not ready: %s", exc)
        return JSONResponse({"status": "unavailable", "store": "table missing",
                             "fix": "gateway create-table"}, status_code=503)
    except StoreError as exc:
        log.warning("not ready: %s", exc)
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
    low = low_disk(services.settings)
    if low is not None:
        log.warning("not ready: %s", low)
        return JSONResponse({"status": "unavailable", "store": "ok", "disk": low}, status_code=503)
    return JSONResponse({"status": "ok", "store": "ok"})


def low_disk(settings: Settings) -> str | None:
    """Why the embedded store's disk is too full to take writes, or None. (DynamoDB has
    no disk of ours.) SQLite on a full disk fails every write: orders, quotes, webhooks."""
    if settings.commerce_table:
        return None
    directory = settings.gateway_db.resolve().parent
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return f"cannot read the free space of {directory}: {exc.strerror}"
    if free < settings.ready_min_free_disk_mb * 1024 * 1024:
        return (f"{free // (1024 * 1024)} MB free in {directory}, under READY_MIN_FREE_DISK_MB="
                f"{settings.ready_min_free_disk_mb}")
    return None


async def start_email_sender(settings: Settings, store: Any, stack: contextlib.AsyncExitStack) -> None:
    """`gateway serve` sends what the outbox holds in the background (jobs/emails.py), and
    at once when a request records a message; stopped, after its drain, at shutdown."""
    if not settings.email_background_send:
        return
    import emailing
    from commerce import emails
    from jobs.emails import BackgroundSender

    transport = emailing.transport_for(settings)
    if transport is None:
        log.warning("no SMTP_URL: messages to shoppers are recorded but not sent")
        return
    sender = BackgroundSender(store, transport, emailing.sender_for(settings),
                              interval=settings.email_send_interval_seconds)
    sender.start()
    stack.push_async_callback(sender.stop)
    stack.callback(emails.listen(sender.nudge))


def create_app(settings: Settings | None = None, *, lazy: bool = False) -> Starlette:
    """The gateway. With `lazy`, the services open on the first request instead of in the
    lifespan and stay open (AWS Lambda: Mangum runs no lifespan we could keep open; the
    scheduled function sends the emails there)."""
    settings = settings or load_settings()
    import emailing

    emailing.configure(settings)
    hide_suggestions = not settings.suggestions_enabled
    schema = build_schema(max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases,
                          max_tokens=settings.graphql_max_tokens, max_cost=settings.graphql_max_cost,
                          introspection=settings.introspection_enabled, suggestions=not hide_suggestions)
    graphql = GatewayGraphQL(schema, graphql_ide="graphiql" if settings.graphiql_enabled else None)
    graphql.trusted = trusted_documents(settings, schema)
    graphql.trusted_mode = settings.trusted_documents
    if settings.fast_path:
        cache = FastPathCache(schema, graphql.trusted)
        graphql.fast_path = cache
        graphql.free_text_fast_path = cache if settings.trusted_documents == "allow" else None
        graphql.hot_path = HotPath(cache, graphql.trusted, settings.trusted_documents)
    routes: list[Any] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route(WEBHOOK_PATH, stripe_webhook, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if settings.graphiql_enabled:
        graphql.explorer = Explorer()
        routes += graphql.explorer.routes()
    if not settings.checkout_success_url or not settings.checkout_cancel_url:
        routes += dev_pages.routes
    if not settings.production and settings.smtp_url is None:
        routes += dev_pages.outbox_routes  # the .eml files the development sender writes

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            app.state.services = await open_services(settings, stack, app.state.emulator)
            await start_email_sender(settings, app.state.services.store, stack)
            settle_heap()
            try:
                yield
            finally:
                gc.unfreeze()  # a test process starts many apps: let this one's go

    middleware: list[Middleware] = []
    if settings.cors_allow_origin:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=settings.cors_allow_origin,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id"], max_age=600,
        ))
    if lazy:
        middleware.insert(0, Middleware(OpenServicesOnFirstRequest, settings=settings))
    middleware.insert(0, Middleware(HttpHygiene, max_body=settings.max_body_bytes,
                                    production=settings.production, own_limits=(WEBHOOK_PATH,),
                                    body_timeout=settings.body_timeout_seconds))
    middleware.insert(0, Middleware(RequestIds))
    app = Starlette(routes=routes, middleware=middleware, lifespan=None if lazy else lifespan,
                    exception_handlers={404: http_refusal, 405: http_refusal})
    app.state.emulator = _mount_emulator(app, settings) if emulated_payments(settings) else None
    app.state.hide_suggestions = hide_suggestions
    app.state.settings = settings
    return app


def trusted_documents(settings: Settings, schema: GatewaySchema) -> TrustedDocuments:
    """The manifest, each document validated once against this schema (limits included).
    A document the schema refuses stays refused, with its errors, and is logged: the
    manifest is older than the schema (scripts/persisted-documents regenerates it)."""
    path = settings.trusted_documents_path
    if (not path.exists() and settings.trusted_documents == "allow"
            and "trusted_documents_path" not in settings.model_fields_set):
        # A plain `pip install .` carries no examples/: free text still runs, ids do not.
        log.warning("no trusted documents manifest at %s: requests by documentId are refused "
                    "(set TRUSTED_DOCUMENTS_PATH)", path)
        return TrustedDocuments({})
    try:
        documents = load_manifest(path).prepared(schema.validate_trusted)
    except ManifestError as exc:
        raise ConfigError(f"TRUSTED_DOCUMENTS_PATH: {exc}") from None
    for document in documents:
        if document.errors:
            log.error("trusted document %s (%s) does not validate: %s", document.id, document.operation_name,
                      "; ".join(error.message for error in document.errors))
    return documents


def settle_heap() -> None:
    """Move what start-up made (schema, SDKs, catalog: long-lived by nature) out of the
    garbage collector's sight, so its full collections walk only what requests make:
    without this, every full collection walks the whole schema and stalls requests
    (the p99 of a trivial query was 30 ms)."""
    gc.collect()
    gc.freeze()


class OpenServicesOnFirstRequest:
    """Open the services once, on the first request, in the loop that serves it; a warm
    Lambda container reuses them for every later invocation."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._lock = asyncio.Lock()
        self._stack = contextlib.AsyncExitStack()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            state = scope["app"].state
            if getattr(state, "services", None) is None:
                async with self._lock:
                    if getattr(state, "services", None) is None:
                        state.services = await open_services(self.settings, self._stack, state.emulator)
                        settle_heap()
        await self.app(scope, receive, send)


def _mount_emulator(app: Starlette, settings: Settings) -> Any:
    """Stripe in-process: the SDK reaches the emulator, and it delivers webhooks back to
    this app, through ASGI; browsers reach its pay pages under /_stripe."""
    from stripe_emulator import Emulator

    base = settings.public_url.rstrip("/")
    emulator = Emulator(webhook_urls=[base + WEBHOOK_PATH], webhook_secret=None,
                        public_url=base + EMULATOR_PATH,
                        webhook_transport=httpx.ASGITransport(app=app),
                        # as a Stripe endpoint would be set up: only the events the gateway
                        # handles, so the catalog sync at start sends nothing
                        enabled_events=frozenset(HANDLERS))
    app.router.routes.append(Mount(EMULATOR_PATH, app=LoopbackOnly(emulator.app)))
    return emulator


class LoopbackOnly:
    """The mounted emulator's API and test controls (its webhook secret, resets, faults)
    answer this machine only: `gateway serve --host 0.0.0.0` shows the pay pages to a phone
    on the network, not the means to forge a payment."""

    OPEN = ("/pay/",)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].removeprefix(scope.get("root_path", "")).startswith(
                self.OPEN):
            host = (scope.get("client") or ("", 0))[0]
            if host not in ("127.0.0.1", "::1", "localhost"):
                await JSONResponse({"error": {"type": "invalid_request_error", "message":
                                              "The emulated Stripe answers this machine only."}},
                                   status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

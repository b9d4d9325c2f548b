"""The Starlette app: /graphql, /healthz, /readyz.

The lifespan opens the store, reads the catalog and builds the token verifier once
per process; requests only borrow them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from typing import Any, AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from cross_web import HTTPException
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from auth import AuthError, TokenVerifier, bearer_token
from commerce.catalog import load_catalog
from context import Context, Services
from schema import schema
from schema.errors import coded
from settings import Settings, load_settings
from store import StoreError, open_store

log = logging.getLogger("gateway")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class GatewayGraphQL(GraphQL):
    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        services: Services = request.app.state.services
        context = Context(request=request, services=services, request_id=_request_id(request))
        request.state.request_id = context.request_id
        try:
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                context.viewer = await services.verifier.verify(token)
        except AuthError as exc:
            context.auth_error = str(exc)
        return context

    def parse_json(self, data: str | bytes) -> object:
        parsed = super().parse_json(data)
        if not isinstance(parsed, (dict, list)):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            request_id = getattr(request.state, "request_id", None)
            result.errors = [coded(error, request_id) for error in result.errors]
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:  # type: ignore[override]
        return orjson.dumps(data)


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


async def open_services(settings: Settings, stack: contextlib.AsyncExitStack) -> Services:
    catalog = load_catalog(settings.catalog_path)
    store = await open_store(table=settings.commerce_table, sqlite_path=settings.gateway_db)
    stack.push_async_callback(store.close)
    return Services(settings=settings, store=store, catalog=catalog,
                    verifier=TokenVerifier(settings))


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        await request.app.state.services.store.ping()
    except StoreError as exc:
        log.warning("not ready: %s", exc)
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "store": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            app.state.services = await open_services(settings, stack)
            yield

    graphql = GatewayGraphQL(schema, graphql_ide="graphiql")
    middleware: list[Middleware] = []
    if settings.cors_allow_origin:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=settings.cors_allow_origin,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", "x-request-id"], max_age=600,
        ))
    routes: list[Any] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)

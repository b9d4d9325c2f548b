"""The apps the throughput benchmark serves, each with the same uvicorn settings and HTTP
stack (bench/serve.py: one worker, access log off):

* `gateway`: the real thing, configured from the environment like `gateway serve`.
* `peer`: what a team writes first: a plain Strawberry app with default settings
  (no parser or validation cache, no limits), serving the same dashboard shape from
  memory. It trusts the bearer token as a lookup key and checks nothing.
* `ceiling`: a bare Starlette JSON endpoint, the most a Python ASGI app can do here.
* `floor`: bare Starlette returning, for each request the benchmark sends, the gateway's
  exact response bytes to it (BENCH_FLOOR_DATA: [{authorization, body, response}], captured
  from the gateway): what serving those bytes costs with no work behind them.

The peer reads its data from the JSON file named by BENCH_PEER_DATA:
{"tokens": {token: userId}, "profiles": {userId: profile}, "orders": {userId: [order, ...newest first]}}
with profiles and orders as the gateway stores them.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.types import Info


def gateway() -> Starlette:
    from server import create_app

    return create_app()


def ceiling() -> Starlette:
    async def typename(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"data": {"__typename": "Query"}})

    return Starlette(routes=[Route("/graphql", typename, methods=["POST"])])


def floor() -> Starlette:
    captured = orjson.loads(Path(os.environ["BENCH_FLOOR_DATA"]).read_bytes())
    answers = {(c["authorization"], c["body"].encode()): c["response"].encode() for c in captured}

    async def same_bytes(request: Request) -> Response:
        body = await request.body()
        return Response(answers[request.headers.get("authorization", ""), body], media_type="application/json")

    return Starlette(routes=[Route("/graphql", same_bytes, methods=["POST"])])


def same_bytes() -> Starlette:
    """The floor for one answer: bare Starlette reading the request and returning, for its
    body and credentials, the gateway's exact answer bytes (BENCH_FLOOR_DATA: a JSON object,
    bench.fastpath.floor_key → base64 of the answer)."""
    import hashlib

    from starlette.responses import Response

    stored = orjson.loads(Path(os.environ["BENCH_FLOOR_DATA"]).read_bytes())
    answers = {key: base64.b64decode(value) for key, value in stored.items()}

    async def answer(request: Request) -> Response:
        body = await request.body()
        key = hashlib.sha256(request.headers.get("authorization", "").encode() + b"\n" + body).hexdigest()
        return Response(answers[key], media_type="application/json")

    return Starlette(routes=[Route("/graphql", answer, methods=["POST"])])


# ---- the peer ---------------------------------------------------------------------------

@strawberry.type
class Money:
    amount: int
    currency: str


@strawberry.type
class Address:
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


@strawberry.type
class OrderItem:
    sku: str | None
    name: str
    quantity: int
    unit_price: Money
    total: Money


@strawberry.type
class Order:
    id: strawberry.ID
    order_number: str
    status: str
    items: list[OrderItem]
    subtotal: Money
    discount: Money
    shipping: Money
    tax: Money
    total: Money
    refunded: Money
    email: str | None
    created_at: datetime
    updated_at: datetime


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo


def _order(item: dict[str, Any]) -> Order:
    cur = item["currency"]
    return Order(
        id=strawberry.ID(item["orderId"]), order_number=item["orderNumber"], status=item["status"],
        items=[OrderItem(sku=i["sku"], name=i["name"], quantity=i["quantity"],
                         unit_price=Money(amount=i["unitPrice"], currency=cur),
                         total=Money(amount=i["total"], currency=cur)) for i in item["items"]],
        subtotal=Money(amount=item["subtotal"], currency=cur),
        discount=Money(amount=item["discount"], currency=cur),
        shipping=Money(amount=item["shipping"], currency=cur), tax=Money(amount=item["tax"], currency=cur),
        total=Money(amount=item["total"], currency=cur), refunded=Money(amount=item["refunded"], currency=cur),
        email=item.get("email"), created_at=datetime.fromtimestamp(item["createdAt"], tz=UTC),
        updated_at=datetime.fromtimestamp(item["updatedAt"], tz=UTC))


@strawberry.type
class Profile:
    user_id: strawberry.ID
    email: str | None
    display_name: str | None
    shipping_address: Address | None

    @strawberry.field
    def orders(self, info: Info, first: int = 20, after: str | None = None) -> OrderConnection:
        mine = info.context["data"]["orders"].get(str(self.user_id), [])
        start = int(base64.b64decode(after)) + 1 if after else 0
        page = mine[start:start + first]
        edges = [OrderEdge(cursor=base64.b64encode(str(start + n).encode()).decode(), node=_order(o))
                 for n, o in enumerate(page)]
        return OrderConnection(edges=edges, page_info=PageInfo(
            has_next_page=start + first < len(mine), end_cursor=edges[-1].cursor if edges else None))


def _viewer_id(info: Info) -> str | None:
    header = info.context["request"].headers.get("authorization", "")
    return info.context["data"]["tokens"].get(header.removeprefix("Bearer "))


@strawberry.type
class Query:
    @strawberry.field
    def viewer(self, info: Info) -> Profile | None:
        user_id = _viewer_id(info)
        if user_id is None:
            return None
        p = info.context["data"]["profiles"][user_id]
        a = p.get("shippingAddress")
        return Profile(user_id=strawberry.ID(user_id), email=p.get("email"), display_name=p.get("displayName"),
                       shipping_address=Address(line1=a["line1"], line2=a["line2"], city=a["city"],
                                                state=a["state"], postal_code=a["postalCode"],
                                                country=a["country"]) if a else None)

    @strawberry.field
    def order(self, info: Info, id: strawberry.ID) -> Order | None:
        user_id = _viewer_id(info)
        found = info.context["data"]["by_id"].get(str(id))
        return _order(found) if found and found["userId"] == user_id else None


class PeerGraphQL(GraphQL):
    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(strawberry.Schema(query=Query))
        self.data = data

    async def get_context(self, request: Request, response: Any) -> dict[str, Any]:  # type: ignore[override]
        return {"request": request, "response": response, "data": self.data}


def peer() -> Starlette:
    data = orjson.loads(Path(os.environ["BENCH_PEER_DATA"]).read_bytes())
    data["by_id"] = {o["orderId"]: o for orders in data["orders"].values() for o in orders}
    return Starlette(routes=[Route("/graphql", PeerGraphQL(data), methods=["GET", "POST"])])

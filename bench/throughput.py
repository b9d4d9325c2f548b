"""Throughput side by side (gateway, plain-Strawberry peer, bare Starlette), the store and
Stripe calls each operation makes, and how `order(id)` and the first page scale with a
customer's history. Every server runs alone, in its own process, under bench.serve."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import ROOT, stop
from bench.load import Request
from bench.load import run as load
from bench.seed import Seeded, seed, write_peer_data
from tests.services import free_port, wait_for_port

JWT_SECRET = "bench-jwt-secret-0123456789abcdefghijklmnopqrst"
QUOTE_SECRET = "bench-quote-secret-0123456789abcdefghijklmnopq"

TYPENAME = "{ __typename }"
ORDER_FIELDS = """id orderNumber status createdAt total { amount currency } refunded { amount currency }
items { sku name quantity unitPrice { amount currency } total { amount currency } }"""
DASHBOARD = f"""query Dashboard {{ viewer {{ userId email displayName
  shippingAddress {{ line1 line2 city state postalCode country }}
  orders(first: 20) {{ edges {{ cursor node {{ {ORDER_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"""
# The first page in the scaling runs: ten orders, so every customer's page is the same size.
FIRST_PAGE = f"""query FirstPage {{ viewer {{ userId
  orders(first: 10) {{ edges {{ cursor node {{ {ORDER_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"""
ORDER = f"query Order($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
QUOTE = """mutation Quote($items: [CartItemInput!]!) { createCartQuote(input: {items: $items}) {
  quote { signature expiresAt total { amount currency } items { sku quantity total { amount } } }
  userErrors { code message } } }"""
CARTS = [[("N-RED", 1), ("E-MAG-SIL", 2), ("BR-CUFF", 1)], [("N-ORG", 2), ("BR-PEARL", 1), ("E-FRINGE", 1)]]


def body(query: str, variables: dict | None = None) -> bytes:
    return orjson.dumps({"query": query, "variables": variables or {}})


def graphql(payload: bytes, token: str | None = None) -> Request:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return Request("/graphql", payload, headers)


@contextlib.contextmanager
def serve(app: str, env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    full = {**os.environ, "PUBLIC_URL": f"http://127.0.0.1:{port}", **env}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bench.serve", app, "--port", str(port)],
                                cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc, 10)


def check(base: str, request: Request, expect: str) -> dict:
    """One request first: a load of errors would measure nothing."""
    headers = {**request.headers, "x-request-id": f"bench-check-{expect}-{random.randrange(10**9):09d}"}
    response = httpx.post(base + request.path, content=request.body, headers=headers, timeout=30)
    answer = response.json()
    if response.status_code != 200 or answer.get("errors") or expect not in response.text:
        raise RuntimeError(f"{base}: unexpected answer to {request.body[:80]!r}: {response.text[:500]}")
    return {"request_id": headers["x-request-id"], "answer": answer}


def measure(base: str, requests: list[Request], *, seconds: float, warmup: float,
            connections: int) -> dict:
    load(base, requests, seconds=warmup, connections=connections)
    figures = load(base, requests, seconds=seconds, connections=connections)
    if figures["errors"] or figures["non2xx"]:
        raise RuntimeError(f"{base}: {figures['errors']} errors, {figures['non2xx']} non-2xx under load")
    return figures


def request_calls(log: Path, request_id: str) -> dict:
    """The gateway's own per-request counters, from its JSON log line for that request."""
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = orjson.loads(line)
            if entry.get("kind") == "request" and entry.get("requestId") == request_id:
                return {"store": entry["storeCalls"], "stripe": entry["stripeCalls"]}
    raise RuntimeError(f"no log line for {request_id} in {log}")


def run(*, workdir: Path, dashboard_users: int, orders_each: int, scale_sizes: list[int],
        seconds: float, warmup: float, connections: int) -> dict:
    from store.sqlite import SQLiteStore
    from web.auth import mint_token

    users = {f"shopper-{n:03d}": orders_each for n in range(dashboard_users)}
    users |= {f"scale-{size}": size for size in scale_sizes}
    tokens = {u: mint_token(JWT_SECRET, u, email=f"{u}@example.com", ttl_seconds=6 * 3600) for u in users}
    database = workdir / "gateway.db"

    async def write() -> Seeded:
        store = await SQLiteStore.open(database)
        try:
            return await seed(store, users, keep_for_peer={u for u in users if u.startswith("shopper-")})
        finally:
            await store.close()

    started = time.perf_counter()
    seeded = asyncio.run(write())
    seed_seconds = time.perf_counter() - started
    peer_data = workdir / "peer.json"
    write_peer_data(peer_data, seeded, tokens)

    shoppers = [u for u in users if u.startswith("shopper-")]
    rng = random.Random(3)
    ops = {
        "typename": [graphql(body(TYPENAME))],
        "dashboard": [graphql(body(DASHBOARD), tokens[u]) for u in shoppers],
        "order": [graphql(body(ORDER, {"id": rng.choice(seeded.order_ids[u])}), tokens[u])
                  for u in shoppers for _ in range(4)],
        "quote": [graphql(body(QUOTE, {"items": [{"sku": s, "quantity": q} for s, q in cart]}))
                  for cart in CARTS],
    }
    expect = {"typename": "Query", "dashboard": "hasNextPage", "order": "orderNumber", "quote": "signature",
              "first_page": "hasNextPage"}
    kw: dict[str, Any] = {"seconds": seconds, "warmup": warmup, "connections": connections}
    results: dict = {"settings": {"connections": connections, "seconds": seconds, "warmup": warmup,
                                  "dashboard_users": dashboard_users, "orders_each": orders_each,
                                  "scale_sizes": scale_sizes, "seed_seconds": round(seed_seconds, 1)},
                     "throughput": {}, "calls": {}, "scaling": {}}

    with serve("ceiling", {}, workdir / "ceiling.log") as base:
        check(base, ops["typename"][0], "Query")
        results["throughput"]["ceiling"] = {"typename": measure(base, ops["typename"], **kw)}

    with serve("peer", {"BENCH_PEER_DATA": str(peer_data)}, workdir / "peer.log") as base:
        peer = results["throughput"]["peer"] = {}
        for op in ("typename", "dashboard", "order"):
            check(base, ops[op][0], expect[op])
            peer[op] = measure(base, ops[op], **kw)

    env = {"GATEWAY_DB": str(database), "JWT_SECRET": JWT_SECRET, "QUOTE_SIGNING_SECRET": QUOTE_SECRET,
           "RATE_LIMIT_QUOTES": "100000", "RATE_LIMIT_CHECKOUTS": "100000",
           "RATE_LIMIT_STRIPE_READS": "100000"}
    log = workdir / "gateway.log"
    with serve("gateway", env, log) as base:
        ours = results["throughput"]["gateway"] = {}
        for op in ("typename", "dashboard", "order", "quote"):
            # the second request is the steady state (the first claims guest orders, once)
            check(base, ops[op][0], expect[op])
            checked = check(base, ops[op][0], expect[op])
            results["calls"][op] = request_calls(log, checked["request_id"])
            ours[op] = measure(base, ops[op], **kw)
        for size in scale_sizes:
            user = f"scale-{size}"
            picks = random.Random(size).sample(seeded.order_ids[user], min(100, size))
            scaled = {
                "first_page": [graphql(body(FIRST_PAGE), tokens[user])],
                "order": [graphql(body(ORDER, {"id": i}), tokens[user]) for i in picks],
            }
            for op, requests in scaled.items():
                check(base, requests[0], expect[op])
                checked = check(base, requests[0], expect[op])
                figures = measure(base, requests, **kw)
                figures["calls"] = request_calls(log, checked["request_id"])
                results["scaling"].setdefault(op, {})[str(size)] = figures
    return results

"""Throughput side by side (gateway, plain-Strawberry peer, bare Starlette, and the floor:
bare Starlette returning the gateway's exact bytes), the store and Stripe calls each
operation makes, and how `order(id)` and the first page scale with a customer's history.
Every server runs in its own process under bench.serve, on one HTTP stack; the loads are
interleaved rounds (bench.throughput.interleaved), the figures their medians. The gateway
gets the dashboard and order(id) by trusted document id (a manifest of the benchmark's own
documents), and by text as well."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import ROOT, cpu_seconds, stop
from bench.load import Request
from bench.load import run as load
from bench.seed import Seeded, seed, write_peer_data
from bench.serve import STACKS
from tests.services import free_port, wait_for_port

# Every server on one HTTP stack (bench/serve.py), the one `gateway serve` runs.
STACK = "fast"
STACK_NAME = "uvicorn, {loop}, {http}".format(**STACKS[STACK])
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


def by_id(document_id: str, variables: dict | None = None) -> bytes:
    return orjson.dumps({"documentId": document_id, "variables": variables or {}})


def write_manifest(path: Path, documents: dict[str, str]) -> dict[str, str]:
    """A manifest of trusted documents (graphql-codegen's form, sha256 hex → text) for the
    gateway under load (TRUSTED_DOCUMENTS_PATH): the benchmark's dashboard and order(id) are
    sent by id, as the storefront sends its own. Their ids, by name."""
    digests = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in documents.items()}
    path.write_bytes(orjson.dumps({digests[name]: text for name, text in documents.items()}))
    return {name: "sha256:" + digest for name, digest in digests.items()}


@contextlib.contextmanager
def serve(app: str, env: dict[str, str], log: Path) -> Iterator[str]:
    with server_process(app, env, log) as (base, _pid):
        yield base


@contextlib.contextmanager
def server_process(app: str, env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """One of bench.apps under bench.serve (uvicorn, the fast stack): its URL and process id."""
    port = free_port()
    full = {**os.environ, "PUBLIC_URL": f"http://127.0.0.1:{port}", **env}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bench.serve", app, "--port", str(port), "--stack", STACK],
                                cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop(proc, 10)


def capture(base: str, requests: list[Request]) -> list[dict[str, str]]:
    """The gateway's exact answer to each request, for the floor to return."""
    captured = []
    for request in requests:
        response = httpx.post(base + request.path, content=request.body, headers=request.headers, timeout=30)
        if response.status_code != 200 or "errors" in response.json():
            raise RuntimeError(f"{base}: unexpected answer to {request.body[:80]!r}: {response.text[:500]}")
        captured.append({"authorization": request.headers.get("authorization", ""), "body": request.body.decode(),
                         "response": response.text})
    return captured


def check(base: str, request: Request, expect: str) -> dict:
    """One request first: a load of errors would measure nothing."""
    headers = {**request.headers, "x-request-id": f"bench-check-{expect}-{random.randrange(10**9):09d}"}
    response = httpx.post(base + request.path, content=request.body, headers=headers, timeout=30)
    answer = response.json()
    if response.status_code != 200 or answer.get("errors") or expect not in response.text:
        raise RuntimeError(f"{base}: unexpected answer to {request.body[:80]!r}: {response.text[:500]}")
    return {"request_id": headers["x-request-id"], "answer": answer}


def measure(base: str, requests: list[Request], *, seconds: float, warmup: float,
            connections: int, pid: int | None = None) -> dict:
    if warmup:
        load(base, requests, seconds=warmup, connections=connections)
    before = cpu_seconds(pid) if pid else 0.0
    figures = load(base, requests, seconds=seconds, connections=connections)
    if figures["errors"] or figures["non2xx"]:
        raise RuntimeError(f"{base}: {figures['errors']} errors, {figures['non2xx']} non-2xx under load")
    if pid and figures["requests"]:
        figures["cpu_ms"] = round((cpu_seconds(pid) - before) * 1000 / figures["requests"], 3)
    return figures


def interleaved(loads: list[tuple[str, str, str, int, list[Request]]], *, rounds: int, seconds: float,
                warmup: float, connections: int) -> dict[str, dict[str, dict]]:
    """Each (server, operation) loaded once a round, the order turned around every round so a
    slower moment of the machine falls on all of them; the median of the rounds (each round's
    rps kept). Warm-up once, before the first round."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for _server, _op, base, _pid, requests in loads:
        load(base, requests, seconds=warmup, connections=connections)
    for n in range(rounds):
        for server, op, base, pid, requests in (loads if n % 2 == 0 else loads[::-1]):
            runs.setdefault((server, op), []).append(
                measure(base, requests, seconds=seconds, warmup=0, connections=connections, pid=pid))
    out: dict[str, dict[str, dict]] = {}
    for (server, op), each in runs.items():
        summary = {key: round(statistics.median(f[key] for f in each), 3)
                   for key in ("rps", "p50_ms", "p99_ms", "mean_ms", "cpu_ms") if all(key in f for f in each)}
        out.setdefault(server, {})[op] = {**summary, "rps_rounds": [f["rps"] for f in each], "tool": each[0]["tool"]}
    return out


def request_calls(log: Path, request_id: str) -> dict:
    """The gateway's own per-request counters, from its JSON log line for that request."""
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = orjson.loads(line)
            if entry.get("kind") == "request" and entry.get("requestId") == request_id:
                return {"store": entry["storeCalls"], "stripe": entry["stripeCalls"]}
    raise RuntimeError(f"no log line for {request_id} in {log}")


def run(*, workdir: Path, dashboard_users: int, orders_each: int, scale_sizes: list[int],
        seconds: float, warmup: float, connections: int, rounds: int = 1) -> dict:
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
    ids = write_manifest(workdir / "trusted-documents.json", {"dashboard": DASHBOARD, "order": ORDER})

    shoppers = [u for u in users if u.startswith("shopper-")]
    rng = random.Random(3)
    order_picks = [(u, rng.choice(seeded.order_ids[u])) for u in shoppers for _ in range(4)]
    text = {
        "typename": [graphql(body(TYPENAME))],
        "dashboard": [graphql(body(DASHBOARD), tokens[u]) for u in shoppers],
        "order": [graphql(body(ORDER, {"id": order}), tokens[u]) for u, order in order_picks],
        "quote": [graphql(body(QUOTE, {"items": [{"sku": s, "quantity": q} for s, q in cart]}))
                  for cart in CARTS],
    }
    # the gateway's dashboard and order(id) by trusted document id (what the storefront sends)
    trusted = {
        "dashboard": [graphql(by_id(ids["dashboard"]), tokens[u]) for u in shoppers],
        "order": [graphql(by_id(ids["order"], {"id": order}), tokens[u]) for u, order in order_picks],
    }
    expect = {"typename": "Query", "dashboard": "hasNextPage", "order": "orderNumber", "quote": "signature",
              "first_page": "hasNextPage"}
    kw: dict[str, Any] = {"seconds": seconds, "warmup": warmup, "connections": connections}
    results: dict = {"settings": {"connections": connections, "seconds": seconds, "warmup": warmup,
                                  "rounds": rounds, "stack": STACK_NAME,
                                  "dashboard_users": dashboard_users, "orders_each": orders_each,
                                  "scale_sizes": scale_sizes, "seed_seconds": round(seed_seconds, 1)},
                     "throughput": {}, "calls": {}, "scaling": {}}

    env = {"GATEWAY_DB": str(database), "JWT_SECRET": JWT_SECRET, "QUOTE_SIGNING_SECRET": QUOTE_SECRET,
           "RATE_LIMIT_QUOTES": "100000", "RATE_LIMIT_CHECKOUTS": "100000",
           "RATE_LIMIT_STRIPE_READS": "100000", "TRUSTED_DOCUMENTS_PATH": str(workdir / "trusted-documents.json")}
    log = workdir / "gateway.log"
    with contextlib.ExitStack() as servers:
        ceiling, ceiling_pid = servers.enter_context(server_process("ceiling", {}, workdir / "ceiling.log"))
        peer, peer_pid = servers.enter_context(server_process("peer", {"BENCH_PEER_DATA": str(peer_data)},
                                                     workdir / "peer.log"))
        ours, ours_pid = servers.enter_context(server_process("gateway", env, log))
        check(ceiling, text["typename"][0], "Query")
        for op in ("typename", "dashboard", "order"):
            check(peer, text[op][0], expect[op])
        gateway_ops = {"typename": text["typename"], "dashboard": trusted["dashboard"], "order": trusted["order"],
                       "quote": text["quote"], "dashboard (text)": text["dashboard"],
                       "order (text)": text["order"]}
        for op, requests in gateway_ops.items():
            # the second request is the steady state (the first claims guest orders, once)
            kind = op.split(" ")[0]
            check(ours, requests[0], expect[kind])
            checked = check(ours, requests[0], expect[kind])
            results["calls"][op] = request_calls(log, checked["request_id"])
        floor_data = workdir / "floor.json"
        floor_data.write_bytes(orjson.dumps(capture(ours, trusted["dashboard"] + trusted["order"])))
        floor, floor_pid = servers.enter_context(server_process("floor", {"BENCH_FLOOR_DATA": str(floor_data)},
                                                       workdir / "floor.log"))
        check(floor, trusted["dashboard"][0], "hasNextPage")
        loads = [("ceiling", "typename", ceiling, ceiling_pid, text["typename"]),
                 ("floor", "dashboard", floor, floor_pid, trusted["dashboard"]),
                 ("floor", "order", floor, floor_pid, trusted["order"]),
                 *[("peer", op, peer, peer_pid, text[op]) for op in ("typename", "dashboard", "order")],
                 *[("gateway", op, ours, ours_pid, requests) for op, requests in gateway_ops.items()]]
        results["throughput"] = interleaved(loads, rounds=rounds, **kw)
        for size in scale_sizes:
            user = f"scale-{size}"
            picks = random.Random(size).sample(seeded.order_ids[user], min(100, size))
            scaled = {
                "first_page": [graphql(body(FIRST_PAGE), tokens[user])],
                "order": [graphql(body(ORDER, {"id": i}), tokens[user]) for i in picks],
            }
            for op, requests in scaled.items():
                check(ours, requests[0], expect[op])
                checked = check(ours, requests[0], expect[op])
                figures = measure(ours, requests, **kw)
                figures["calls"] = request_calls(log, checked["request_id"])
                results["scaling"].setdefault(op, {})[str(size)] = figures
    return results

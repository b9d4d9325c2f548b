"""The fast path of trusted documents (web/fastpath.py, issue 20), measured: the dashboard
(viewer + 20 orders with items) and order(id), sent as the storefront sends them, by
`documentId`, to the gateway with the fast path on and with it off (FAST_PATH=false), and to
a bare Starlette app that returns, for each request, the gateway's exact answer bytes (the
floor: `bench.apps.same_bytes`). Every server runs alone, on the same stack (bench.serve).
The gateway loads a manifest of the benchmark's own documents (TRUSTED_DOCUMENTS_PATH), so
the shape is the one measured in the issue."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.load import Request
from bench.seed import seed
from bench.throughput import (
    DASHBOARD,
    JWT_SECRET,
    ORDER,
    QUOTE_SECRET,
    check,
    graphql,
    measure,
    request_calls,
    serve,
)

OPERATIONS = ("dashboard", "order")
EXPECT = {"dashboard": "hasNextPage", "order": "orderNumber"}


def document_id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def by_id(text: str, variables: dict | None, token: str) -> Request:
    return graphql(orjson.dumps({"documentId": document_id(text), "variables": variables or {}}), token)


def floor_key(request: Request) -> str:
    """How the same-bytes floor finds a request's answer: its body and its credentials."""
    return hashlib.sha256(request.headers.get("authorization", "").encode() + b"\n" + request.body).hexdigest()


def run(*, workdir: Path, dashboard_users: int, orders_each: int, seconds: float, warmup: float,
        connections: int) -> dict:
    from store.sqlite import SQLiteStore
    from web.auth import mint_token

    users = {f"fast-{n:03d}": orders_each for n in range(dashboard_users)}
    tokens = {u: mint_token(JWT_SECRET, u, email=f"{u}@example.com", ttl_seconds=6 * 3600) for u in users}
    database = workdir / "fastpath.db"

    async def write() -> Any:
        store = await SQLiteStore.open(database)
        try:
            return await seed(store, users, keep_for_peer=set())
        finally:
            await store.close()

    seeded = asyncio.run(write())
    manifest = workdir / "bench-documents.json"
    manifest.write_bytes(orjson.dumps({document_id(t)[7:]: t for t in (DASHBOARD, ORDER)}))
    rng = random.Random(5)
    ops = {"dashboard": [by_id(DASHBOARD, None, tokens[u]) for u in users],
           "order": [by_id(ORDER, {"id": rng.choice(seeded.order_ids[u])}, tokens[u]) for u in users
                     for _ in range(4)]}
    kw: dict[str, Any] = {"seconds": seconds, "warmup": warmup, "connections": connections}
    results: dict[str, Any] = {"throughput": {}, "calls": {}}
    answers: dict[str, str] = {}
    for mode in ("on", "off"):
        env = {"GATEWAY_DB": str(database), "JWT_SECRET": JWT_SECRET, "QUOTE_SIGNING_SECRET": QUOTE_SECRET,
               "TRUSTED_DOCUMENTS": "only", "TRUSTED_DOCUMENTS_PATH": str(manifest),
               "FAST_PATH": "true" if mode == "on" else "false", "RATE_LIMIT_STRIPE_READS": "100000"}
        log = workdir / f"fastpath-{mode}.log"
        with serve("gateway", env, log) as base:
            figures = results["throughput"][f"fast path {mode}"] = {}
            for op in OPERATIONS:
                for request in ops[op]:  # each request once: the first sight (and the profile made)
                    check(base, request, EXPECT[op])
                checked = check(base, ops[op][0], EXPECT[op])  # a repeat: served by the fast path when on
                results["calls"][f"{op}, fast path {mode}"] = request_calls(log, checked["request_id"])
                figures[op] = measure(base, ops[op], **kw)
                if mode == "on":
                    with httpx.Client(base_url=base, timeout=30) as client:
                        for request in ops[op]:
                            answer = client.post(request.path, content=request.body, headers=request.headers)
                            answers[floor_key(request)] = base64.b64encode(answer.content).decode()
    floor_data = workdir / "floor.json"
    floor_data.write_bytes(orjson.dumps(answers))
    with serve("same_bytes", {"BENCH_FLOOR_DATA": str(floor_data)}, workdir / "floor.log") as base:
        floor = results["throughput"]["same bytes"] = {}
        for op in OPERATIONS:
            check(base, ops[op][0], EXPECT[op])
            floor[op] = measure(base, ops[op], **kw)
    tp = results["throughput"]
    results["ratios"] = {op: {"on / off": tp["fast path on"][op]["rps"] / tp["fast path off"][op]["rps"],
                              "on / same bytes": tp["fast path on"][op]["rps"] / tp["same bytes"][op]["rps"],
                              "off / same bytes": tp["fast path off"][op]["rps"] / tp["same bytes"][op]["rps"]}
                         for op in OPERATIONS}
    return results


def markdown(results: dict[str, Any]) -> list[str]:
    lines = ["## Trusted documents by id: the fast path on, off, and the same bytes from bare Starlette", "",
             "| server | operation | rps | p50 ms | p99 ms | store calls (a repeat) |", "|---|---|---:|---:|---:|---:|"]
    for server, figures in results["throughput"].items():
        for op, f in figures.items():
            calls = results["calls"].get(f"{op}, {server}", {}).get("store", "")
            lines.append(f"| {server} | {op} | {f['rps']:.0f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {calls} |")
    lines += ["", "| operation | on / off | on / same bytes | off / same bytes |", "|---|---:|---:|---:|"]
    for op, r in results["ratios"].items():
        lines.append(f"| {op} | {r['on / off']:.2f}x | {r['on / same bytes']:.3f}x | {r['off / same bytes']:.3f}x |")
    return [*lines, ""]

"""Webhook ingestion: signed `checkout.session.completed` deliveries, each event once,
into the gateway on SQLite or on DynamoDB Local, with Stripe (the session and its line
items, fetched for every event) served by the emulator in its own process.

Reports events/s and the latency of each delivery (p50, p99), and checks the outcome:
one order per event, none missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

from bench import ROOT
from bench.load import Request, run_python
from bench.sync_orders import record as record_sessions
from bench.sync_orders import seed as seed_sessions
from bench.throughput import JWT_SECRET, QUOTE_SECRET, serve
from tests.services import DynamoDBLocal, free_port, wait_for_port

WEBHOOK_SECRET = "whsec_bench0123456789abcdefghijklmnop"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def emulator(log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "emulator", "--port", str(port), "--webhook-secret", WEBHOOK_SECRET],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def completed_events(base: str, wanted: int) -> list[dict]:
    events: list[dict] = []
    params: dict[str, str | int] = {"type": "checkout.session.completed", "limit": 100}
    async with httpx.AsyncClient(base_url=base, headers={"authorization": "Bearer sk_test_bench"},
                                 timeout=60) as client:
        while True:
            page = (await client.get("/v1/events", params=params)).json()
            events += page["data"]
            if not page["has_more"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
    if len(events) != wanted:
        raise RuntimeError(f"the emulator has {len(events)} completed sessions, not {wanted}")
    return events


def signed(event: dict) -> Request:
    payload = orjson.dumps(event)
    stamp = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return Request("/stripe/webhook", payload, {"content-type": "application/json",
                                                "stripe-signature": f"t={stamp},v1={mac}"})


async def _record(database: Path, table: str | None, made: list[dict]) -> None:
    from store import open_store

    store = await open_store(table=table, sqlite_path=database)
    try:
        await record_sessions(store, made)
    finally:
        await store.close()


def count_orders(database: Path, table: str | None) -> int:
    async def count() -> int:
        from store import open_store

        store = await open_store(table=table, sqlite_path=database)
        try:
            ids = [e["orderId"] for e in await _all_orders(store)]
            return len(set(ids))
        finally:
            await store.close()

    return asyncio.run(count())


async def _all_orders(store) -> list[dict]:
    """Every order, through the listing copies of the bench's users (the sessions' userIds)."""
    from store import keys

    found: list[dict] = []
    for n in range(100):
        cursor = None
        while True:
            page = await store.query(keys.user_partition(f"bench-{n}"), prefix=keys.ORDER_PREFIX,
                                     limit=100, cursor=cursor)
            found += page.items
            if page.cursor is None:
                break
            cursor = page.cursor
    return found


def run(engine: str, *, events: int, connections: int, workdir: Path,
        dynamodb: DynamoDBLocal | None = None) -> dict:
    env = {"JWT_SECRET": JWT_SECRET, "QUOTE_SIGNING_SECRET": QUOTE_SECRET, "STRIPE_SECRET": "sk_test_bench",
           "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "RATE_LIMIT_WEBHOOKS": "100000"}
    database = workdir / f"webhooks-{engine}.db"
    table = None
    if engine == "sqlite":
        env["GATEWAY_DB"] = str(database)
    else:
        assert dynamodb is not None
        from store.dynamodb import create_table

        table = f"bench-{uuid.uuid4().hex[:8]}"
        aws = {**AWS_ENV, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb.endpoint}
        os.environ.update(aws)
        asyncio.run(create_table(table))
        env |= {**aws, "COMMERCE_TABLE": table}
    with emulator(workdir / f"emulator-{engine}.log") as stripe_base:
        started = time.perf_counter()
        made = asyncio.run(seed_sessions(stripe_base, events))
        asyncio.run(_record(database, table, made))
        seeded = time.perf_counter() - started
        to_send = asyncio.run(completed_events(stripe_base, events))
        env["STRIPE_API_BASE"] = stripe_base
        with serve("gateway", env, workdir / f"gateway-webhooks-{engine}.log") as base:
            warm = [signed(e) for e in to_send[:max(1, events // 20)]]
            run_python(base, warm, seconds=None, connections=connections)
            rest = [signed(e) for e in to_send[len(warm):]]
            figures = run_python(base, rest, seconds=None, connections=connections)
    orders = count_orders(database, table)
    if figures["errors"] or figures["non2xx"] or orders != events:
        raise RuntimeError(f"webhooks on {engine}: {figures}, {orders} orders for {events} events")
    return {"engine": engine, "events": len(rest), "connections": connections,
            "events_per_second": figures["rps"], "p50_ms": figures["p50_ms"], "p99_ms": figures["p99_ms"],
            "mean_ms": figures["mean_ms"], "orders": orders, "seed_seconds": round(seeded, 1)}

"""One worker against N (issue 21): `gateway serve --workers 1` and `--workers N` (one per
core, at least two) side by side on the same seeded SQLite file, Stripe served by the
emulator in its own process, each operation loaded in interleaved rounds (1, N, then N,
1, ...), so a slower moment of the machine falls on both. For each load: rps, latency,
and the CPU each worker process used (utime + stime from /proc/PID/stat)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import ROOT, cpu_seconds, stop
from bench.load import Request
from bench.load import run as load
from bench.seed import seed
from bench.throughput import DASHBOARD, JWT_SECRET, ORDER, QUOTE_SECRET, TYPENAME, body, check, graphql
from bench.webhooks import emulator
from tests.services import command_env, free_port, wait_for_port

OPERATIONS = {"typename": "Query", "order": "orderNumber", "dashboard": "hasNextPage"}
TICKS = os.sysconf("SC_CLK_TCK")


def worker_count() -> int:
    return max(2, os.cpu_count() or 1)


@contextlib.contextmanager
def gateway(workers: int, env: dict[str, str], log: Path) -> Iterator[tuple[str, list[int]]]:
    """`gateway serve --workers N` until it is ready: its URL and its worker processes."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port),
                                 "--workers", str(workers)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        deadline = time.monotonic() + 120
        while b"gateway: ready" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway with {workers} workers did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        pids = [proc.pid] if workers == 1 else spawned_workers(proc.pid)
        if len(pids) != workers:
            raise RuntimeError(f"{len(pids)} worker processes, not {workers}")
        yield f"http://127.0.0.1:{port}", pids
    finally:
        stop(proc, 30)


def spawned_workers(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return sorted(int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes())




def loaded(base: str, pids: list[int], requests: list[Request], *, seconds: float, warmup: float,
           connections: int) -> dict:
    """One load after a warm-up: its figures, and each worker's busy cores meanwhile."""
    load(base, requests, seconds=warmup, connections=connections)
    before = [cpu_seconds(pid) for pid in pids]
    figures = load(base, requests, seconds=seconds, connections=connections)
    after = [cpu_seconds(pid) for pid in pids]
    if figures["errors"] or figures["non2xx"]:
        raise RuntimeError(f"{base}: {figures['errors']} errors, {figures['non2xx']} non-2xx under load")
    figures["worker_cores"] = [round((a - b) / figures["seconds"], 2) for a, b in zip(after, before, strict=False)]
    return figures


def run(*, workdir: Path, dashboard_users: int, orders_each: int, rounds: int, seconds: float,
        warmup: float, connections: int) -> dict:
    from store.sqlite import SQLiteStore
    from web.auth import mint_token

    shoppers = {f"shopper-{n:03d}": orders_each for n in range(dashboard_users)}
    tokens = {u: mint_token(JWT_SECRET, u, email=f"{u}@example.com", ttl_seconds=6 * 3600) for u in shoppers}
    database = workdir / "workers.db"

    async def write():
        store = await SQLiteStore.open(database)
        try:
            return await seed(store, shoppers, keep_for_peer=set())
        finally:
            await store.close()

    seeded = asyncio.run(write())
    rng = random.Random(21)
    ops = {
        "typename": [graphql(body(TYPENAME))],
        "order": [graphql(body(ORDER, {"id": rng.choice(seeded.order_ids[u])}), tokens[u])
                  for u in shoppers for _ in range(4)],
        "dashboard": [graphql(body(DASHBOARD), tokens[u]) for u in shoppers],
    }
    many = worker_count()
    runs: dict = {op: {"1": [], str(many): []} for op in ops}
    kw: dict[str, Any] = {"seconds": seconds, "warmup": warmup, "connections": connections}
    with emulator(workdir / "workers-emulator.log") as stripe_base:
        env = {**command_env(workdir), "GATEWAY_DB": str(database), "JWT_SECRET": JWT_SECRET,
               "QUOTE_SIGNING_SECRET": QUOTE_SECRET, "STRIPE_SECRET": "sk_test_bench_workers",
               "STRIPE_API_BASE": stripe_base, "RATE_LIMIT_QUOTES": "100000",
               "RATE_LIMIT_CHECKOUTS": "100000", "RATE_LIMIT_STRIPE_READS": "100000"}
        with gateway(1, env, workdir / "workers-1.log") as one, \
                gateway(many, env, workdir / f"workers-{many}.log") as several:
            servers = {"1": one, str(many): several}
            for op, requests in ops.items():
                for base, _ in servers.values():
                    check(base, requests[0], OPERATIONS[op])
                    check(base, requests[0], OPERATIONS[op])  # the steady state: guest orders claimed
            for n in range(rounds):
                order = list(servers) if n % 2 == 0 else list(servers)[::-1]
                for op, requests in ops.items():
                    for count in order:
                        base, pids = servers[count]
                        runs[op][count].append(loaded(base, pids, requests, **kw))
    return {"workers": many, "cores": os.cpu_count(), "rounds": rounds, "connections": connections,
            "seconds": seconds, "warmup": warmup, "dashboard_users": dashboard_users,
            "orders_each": orders_each, "runs": runs, "summary": summary(runs, many)}


def summary(runs: dict, many: int) -> dict:
    """Per operation: the median rps of each side, their ratio, and the median busy cores of
    each worker (busiest first)."""
    out = {}
    for op, sides in runs.items():
        medians = {count: statistics.median(f["rps"] for f in loads) for count, loads in sides.items()}
        cores = {count: sorted((statistics.median(f["worker_cores"][w] for f in loads)
                                for w in range(int(count))), reverse=True)
                 for count, loads in sides.items()}
        out[op] = {"rps_1": medians["1"], "rps_n": medians[str(many)],
                   "ratio": round(medians[str(many)] / medians["1"], 2) if medians["1"] else 0.0,
                   "cores_1": cores["1"], "cores_n": cores[str(many)]}
    return out

"""sync-orders over N sessions: time and peak RSS of the syncing process.

The emulator runs in its own process (`gateway emulator`), so its in-memory state does
not count against the sync. Sessions are created and paid with deliveries off, so the
sync has every order to create. The baseline, in the same run, is the same sync over
N/10 sessions: memory must not grow with the number of sessions.

    .venv/bin/python -m bench.sync_orders [--sessions 10000] [--rate 100]

(`python -m bench` runs it with the rest of the benchmark.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import httpx

from bench import ROOT
from tests.services import free_port, wait_for_port

QUOTE_SIGNATURE = "q" * 43  # the sessions' (and their records') quote


async def seed(base: str, count: int) -> list[dict]:
    """`count` paid sessions on the emulator; returns what the gateway's checkout would
    have recorded for each (see `record`): only recorded sessions become orders."""
    headers = {"authorization": "Bearer sk_test_bench"}
    limit = asyncio.Semaphore(16)
    sessions: list[dict] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        async def one(n: int) -> None:
            async with limit:
                response = await client.post("/v1/checkout/sessions", data={
                    "mode": "payment", "success_url": "https://shop.example/ok",
                    "metadata[source]": "commerce-gateway", "metadata[userId]": f"bench-{n % 100}",
                    "metadata[quoteSignature]": QUOTE_SIGNATURE,
                    "line_items[0][price_data][currency]": "usd",
                    "line_items[0][price_data][unit_amount]": str(1000 + n % 500),
                    "line_items[0][price_data][product_data][name]": "Cuff",
                    "line_items[0][quantity]": "1"})
                session_id = response.json()["id"]
                await client.post(f"/_emulator/checkout/sessions/{session_id}/pay",
                                  json={"card_number": "4242424242424242", "email": f"b{n}@example.com"})
                sessions.append({"id": session_id, "userId": f"bench-{n % 100}", "amount": 1000 + n % 500})
        await asyncio.gather(*(one(n) for n in range(count)))
    return sessions


async def record(store, seeded: list[dict]) -> None:
    """The SESSION# records the gateway's checkout writes for the seeded sessions."""
    from commerce.checkout import checkout_owner, session_record
    from commerce.orders import expected_charge
    from store.base import now_epoch

    limit = asyncio.Semaphore(16)

    async def one(s: dict) -> None:
        async with limit:
            await store.put(session_record(
                s["id"], QUOTE_SIGNATURE, user_id=s["userId"], guest_email=None,
                owner=checkout_owner(s["userId"], None),
                expected=expected_charge("USD", s["amount"], [(s["amount"], 1)]), now=now_epoch()).to_item())
    await asyncio.gather(*(one(s) for s in seeded))


def record_in_sqlite(path: str, seeded: list[dict]) -> None:
    async def write() -> None:
        from store.sqlite import SQLiteStore

        store = await SQLiteStore.open(path)
        try:
            await record(store, seeded)
        finally:
            await store.close()
    asyncio.run(write())


def sync_in_child(base: str, rate: int, database: str) -> dict:
    """Run the sync in a fresh process and read its peak RSS there."""
    code = f"""
import asyncio, json, resource, time
from payments import Payments
from store.sqlite import SQLiteStore
from jobs.reconcile import sync_orders
async def main():
    store = await SQLiteStore.open({database!r})
    payments = Payments("sk_test_bench", api_base={base!r}, max_network_retries=3)
    started = time.perf_counter()
    report = await sync_orders(store, payments, since=0, per_second={rate})
    seconds = time.perf_counter() - started
    await payments.close(); await store.close()
    return report, seconds
def peak_kb():
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's over fork+exec
    try:
        with open("/proc/self/status") as status:
            return int(next(l for l in status if l.startswith("VmHWM")).split()[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report, seconds = asyncio.run(main())
print(json.dumps({{"scanned": report.scanned, "created": report.created, "seconds": round(seconds, 2),
                  "peak_rss_mb": round(peak_kb() / 1024, 1)}}))
"""
    # run from the root, so `python -c` finds the gateway's modules there, as `python -m bench` did
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(count: int, rate: int) -> dict:
    port = free_port()
    env = {**os.environ, "STRIPE_EMULATOR_WEBHOOK_URL": ""}
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "emulator", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        made = asyncio.run(seed(base, count))
        database = tempfile.mkdtemp() + "/bench.db"
        record_in_sqlite(database, made)
        seeded = time.perf_counter() - started
        result = sync_in_child(base, rate, database)
        if result["created"] != count:
            raise RuntimeError(f"sync-orders created {result['created']} orders for {count} sessions")
        return {"sessions": count, "seed_seconds": round(seeded, 1), **result}
    finally:
        proc.terminate()
        proc.wait(10)


def compare(sessions: int, rate: int) -> dict:
    """The sync over `sessions`, and over a tenth of them as the baseline."""
    baseline = run(max(sessions // 10, 1), rate)
    measured = run(sessions, rate)
    return {"baseline": baseline, "measured": measured, "rate": rate,
            "time_ratio": round(measured["seconds"] / max(baseline["seconds"], 0.01), 2),
            "rss_ratio": round(measured["peak_rss_mb"] / baseline["peak_rss_mb"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=100, help="Stripe calls per second allowed")
    args = parser.parse_args()
    print(json.dumps(compare(args.sessions, args.rate), indent=2))


if __name__ == "__main__":
    main()

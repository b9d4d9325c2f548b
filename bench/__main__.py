"""The benchmark, in one run on one machine (`scripts/bench`, or `python -m bench`):

1. throughput of the gateway, a plain-Strawberry peer, a bare Starlette endpoint and the
   floor (bare Starlette returning the gateway's exact bytes), under the same uvicorn
   settings and HTTP stack, in interleaved rounds, loaded from another process (wrk when
   installed); the import time of the Lambda handler (a cold start);
2. the store and Stripe calls of each operation (the gateway's own per-request counters);
3. order(id) and the first page for customers with 10, 1,000 and 10,000 orders; webhook
   ingestion on SQLite and on DynamoDB Local; sync-orders over 10,000 sessions;
4. hostile documents: the worst document of each shape under the token limit, its answer
   time and the slowest /healthz answer while it is sent (bench/validation.py);
5. one worker against one per core (`gateway serve --workers N`): rps and each worker's
   CPU for the same operations, in interleaved rounds (bench/workers.py);
6. bench/results/latest.json, latest.md and scaling.png, with each target's verdict.

`--smoke` runs every part with tiny sizes (for CI: it proves the benchmark works, its
figures mean little) and writes to var/bench-smoke/ unless --out says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ROOT, coldstart, fastpath, report, sync_orders, throughput, validation, webhooks, workers
from bench.load import has_wrk

FULL: dict[str, Any] = {"dashboard_users": 50, "orders_each": 25, "scale_sizes": [10, 1000, 10000], "seconds": 5.0,
        "warmup": 2.0, "connections": 8, "rounds": 3, "import_repeats": 7,
        "webhook_events": {"sqlite": 3000, "dynamodb": 1000},
        "webhook_connections": 4, "sync_sessions": 10000, "sync_rate": 100, "hostile_repeats": 20,
        "workers": {"dashboard_users": 20, "orders_each": 25, "rounds": 5, "seconds": 5.0, "warmup": 1.0,
                    "connections": 16}}
SMOKE: dict[str, Any] = {"dashboard_users": 3, "orders_each": 25, "scale_sizes": [10, 50, 200], "seconds": 1.0,
         "warmup": 0.5, "connections": 4, "rounds": 1, "import_repeats": 2,
         "webhook_events": {"sqlite": 60, "dynamodb": 30},
         "webhook_connections": 4, "sync_sessions": 200, "sync_rate": 100, "hostile_repeats": 3,
         "workers": {"dashboard_users": 2, "orders_each": 5, "rounds": 1, "seconds": 1.0, "warmup": 0.3,
                     "connections": 4}}

PARTS = ["throughput", "coldstart", "fastpath", "webhooks", "sync", "validation", "workers"]


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load from {'wrk' if has_wrk() else 'the Python generator'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the benchmark runs")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated: throughput (with calls and scaling), coldstart, fastpath (trusted "
                             "documents "
                             "by id, fast path on and off, the same-bytes floor), webhooks, sync, "
                             "validation (hostile documents), workers (1 against N)")
    parser.add_argument("--out", type=Path, help="where results go (default bench/results, "
                                                 "or var/bench-smoke with --smoke)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if not parts or parts - set(PARTS):
        parser.error(f"--parts takes {', '.join(PARTS)}, comma-separated")
    sizes = SMOKE if args.smoke else FULL
    out = args.out or (ROOT / "var" / "bench-smoke" if args.smoke else ROOT / "bench" / "results")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def step(name: str) -> None:
        print(f"bench: {name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    from tests.services import DynamoDBLocal

    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        workdir = Path(scratch)
        results: dict = {"settings": {}}
        if "throughput" in parts:
            step("throughput, call counts and scaling")
            results = throughput.run(
                workdir=workdir, dashboard_users=sizes["dashboard_users"], orders_each=sizes["orders_each"],
                scale_sizes=sizes["scale_sizes"], seconds=sizes["seconds"], warmup=sizes["warmup"],
                connections=sizes["connections"], rounds=sizes["rounds"])
        if "coldstart" in parts:
            step("cold start: import lambda_handler (python -X importtime)")
            results["cold_start"] = coldstart.run(repeats=sizes["import_repeats"])
        if "fastpath" in parts:
            step("trusted documents by id: the fast path on, off, and the same bytes from bare Starlette")
            results["fastpath"] = fastpath.run(
                workdir=workdir, dashboard_users=sizes["dashboard_users"], orders_each=sizes["orders_each"],
                seconds=sizes["seconds"], warmup=sizes["warmup"], connections=sizes["connections"])
        if "webhooks" in parts:
            results["webhooks"] = {}
            step("webhook ingestion on SQLite")
            results["webhooks"]["sqlite"] = webhooks.run(
                "sqlite", events=sizes["webhook_events"]["sqlite"], connections=sizes["webhook_connections"],
                workdir=workdir)
            step("webhook ingestion on DynamoDB Local")
            dynamodb = DynamoDBLocal()
            try:
                results["webhooks"]["dynamodb"] = webhooks.run(
                    "dynamodb", events=sizes["webhook_events"]["dynamodb"],
                    connections=sizes["webhook_connections"], workdir=workdir, dynamodb=dynamodb)
            finally:
                dynamodb.stop()
        if "sync" in parts:
            step(f"sync-orders over {sizes['sync_sessions']} sessions (and a tenth of them)")
            results["sync"] = sync_orders.compare(sizes["sync_sessions"], sizes["sync_rate"])
        if "validation" in parts:
            step("hostile documents: validation time, /healthz meanwhile")
            results["validation"] = validation.run(workdir=workdir, repeats=sizes["hostile_repeats"])
        if "workers" in parts:
            step(f"1 worker against {workers.worker_count()}: the same operations, each worker's CPU")
            results["workers"] = workers.run(workdir=workdir, **sizes["workers"])

    results["settings"]["smoke"] = args.smoke
    results["machine"] = machine()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = report.verdicts(results)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "latest.md").write_text(report.markdown(results))
    if "throughput" in parts:
        report.plot(results, out / "scaling.png")
    step(f"wrote latest.json, latest.md{', scaling.png' if 'throughput' in parts else ''} in {out}")
    print(report.markdown(results))
    missed = [v["target"] for v in results["targets"] if not v["met"]]
    if missed and not args.smoke:
        print(f"bench: targets missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

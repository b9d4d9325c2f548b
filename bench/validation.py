"""Hostile documents (issue 15): for each shape that makes GraphQL validation slow, the
largest document under the token limit (tests/hostile_documents.py) is sent to the gateway
over HTTP, each time with different leading blanks so no cache can answer, while a
second client asks /healthz every few milliseconds. Figures: the answer time of each
document and the slowest /healthz answer meanwhile, i.e. how long the server was held."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from pathlib import Path

import httpx

from bench.throughput import JWT_SECRET, QUOTE_SECRET, serve
from tests.hostile_documents import tokens, worst_documents

MAX_TOKENS = 2000  # GRAPHQL_MAX_TOKENS's default
TIMEOUT = 30.0  # seconds: a document still validating after this counts as a timeout


def run(*, workdir: Path, repeats: int) -> dict:
    env = {"GATEWAY_DB": str(workdir / "validation.db"), "JWT_SECRET": JWT_SECRET,
           "QUOTE_SIGNING_SECRET": QUOTE_SECRET, "GRAPHQL_MAX_TOKENS": str(MAX_TOKENS)}
    documents = worst_documents(MAX_TOKENS)
    results: dict = {"max_tokens": MAX_TOKENS, "repeats": repeats, "documents": {}}
    for name, document in documents.items():
        # A server of its own for each shape: one that never finishes must not spoil the next.
        with serve("gateway", env, workdir / "validation.log") as base:
            results["documents"][name] = _measure(base, document, repeats)
    worst = max(results["documents"].items(), key=lambda item: item[1]["median_ms"])
    results["worst"] = {"shape": worst[0], "median_ms": worst[1]["median_ms"], "max_ms": worst[1]["max_ms"]}
    results["healthz_max_ms"] = max(d["healthz_max_ms"] for d in results["documents"].values())
    results["healthz_p95_ms"] = max(d["healthz_p95_ms"] for d in results["documents"].values())
    return results


def _measure(base: str, document: str, repeats: int) -> dict:
    health: list[float] = []
    stop, probing = threading.Event(), threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            client.get("/healthz")
            probing.set()
            while not stop.is_set():
                started = time.perf_counter()
                with contextlib.suppress(httpx.TimeoutException):
                    client.get("/healthz")
                health.append(time.perf_counter() - started)
                time.sleep(0.005)

    times: list[float] = []
    outcome = "?"
    prober = threading.Thread(target=probe, daemon=True)
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        # Warm up (the first request of a process is slower, whatever it is), then measure.
        client.post("/graphql", json={"query": "{ __typename }"})
        prober.start()
        probing.wait(TIMEOUT)
        try:
            for n in range(repeats):
                body = {"query": " " * (n + 1) + document}  # a new text (no cache hit), no new token
                started = time.perf_counter()
                try:
                    answer = client.post("/graphql", json=body).json()
                except httpx.TimeoutException:
                    times.append(TIMEOUT)
                    outcome = f"no answer in {TIMEOUT:g} s"
                    break
                times.append(time.perf_counter() - started)
                errors = answer.get("errors") or []
                outcome = errors[0]["message"][:90] if errors else "valid"
        finally:
            stop.set()
            prober.join(TIMEOUT + 1)
    return {"bytes": len(document.encode()), "tokens": tokens(document), "outcome": outcome,
            "median_ms": round(statistics.median(times) * 1000, 2), "max_ms": round(max(times) * 1000, 2),
            "healthz_p95_ms": round(_quantile(health, 0.95) * 1000, 2),
            "healthz_max_ms": round(max(health, default=0) * 1000, 2)}


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

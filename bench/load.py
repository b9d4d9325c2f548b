"""Load generators, each run in its own process so the server under test keeps its core.

* `wrk` (Debian's package), when it is on the PATH: a fixed request (or a rotation of
  headers) for a fixed time; a Lua `done` hook prints the figures as JSON.
* A Python generator (this file run as a script): raw HTTP/1.1 on keep-alive
  connections, no client library in the way. It sends a list of requests either in a
  loop for a fixed time, or each one once (webhook events must be distinct).

Both report: requests, seconds, rps, p50/p99/mean latency in ms, and the failures
(connection errors and non-2xx statuses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Request:
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


def has_wrk() -> bool:
    """wrk when it is installed, unless BENCH_LOAD=python asks for the Python generator."""
    return os.environ.get("BENCH_LOAD", "wrk") != "python" and shutil.which("wrk") is not None


# ---- wrk ------------------------------------------------------------------------------

WRK_SCRIPT = """
local bodies = {bodies}
local headers = {headers}
local paths = {paths}
local i = 0
request = function()
  i = (i % #bodies) + 1
  return wrk.format("{method}", paths[i], headers[i], bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n@@{{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def _lua(value: str) -> str:
    return "[=====[" + value + "]=====]"


def run_wrk(base: str, requests: list[Request], *, seconds: float, connections: int) -> dict:
    method = {r.method for r in requests}
    assert len(method) == 1, "one method per run"
    script = WRK_SCRIPT.format(
        bodies="{" + ",".join(_lua(r.body.decode()) for r in requests) + "}",
        paths="{" + ",".join(_lua(r.path) for r in requests) + "}",
        headers="{" + ",".join(
            "{" + ",".join(f"[ {_lua(k)} ]={_lua(v)}" for k, v in r.headers.items()) + "}"
            for r in requests) + "}",
        method=method.pop())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
             "-s", f.name, base], capture_output=True, text=True, timeout=seconds + 60, check=True)
    finally:
        os.unlink(f.name)
    line = next(text for text in out.stdout.splitlines() if text.startswith("@@"))
    raw = json.loads(line[2:])
    secs = raw["duration_us"] / 1e6
    return _figures(raw["requests"], secs, raw["p50_us"] / 1000, raw["p99_us"] / 1000,
                    raw["mean_us"] / 1000, raw["errors"], raw["non2xx"], "wrk")


# ---- the Python generator ---------------------------------------------------------------

def _encode(host: str, r: Request) -> bytes:
    head = [f"{r.method} {r.path} HTTP/1.1", f"host: {host}", f"content-length: {len(r.body)}"]
    head += [f"{k}: {v}" for k, v in r.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + r.body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _generate(base: str, requests: list[Request], seconds: float | None,
                    connections: int) -> dict:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    wire = [_encode(f"{host}:{port}", r) for r in requests]
    latencies: list[float] = []
    failures = {"errors": 0, "non2xx": 0}
    next_index = 0
    deadline = None if seconds is None else time.perf_counter() + seconds

    def take() -> bytes | None:
        nonlocal next_index
        if deadline is None:
            if next_index >= len(wire):
                return None
            item = wire[next_index]
        else:
            if time.perf_counter() >= deadline:
                return None
            item = wire[next_index % len(wire)]
        next_index += 1
        return item

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (payload := take()) is not None:
                started = time.perf_counter()
                try:
                    writer.write(payload)
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    failures["errors"] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                latencies.append(time.perf_counter() - started)
                if not 200 <= status < 300:
                    failures["non2xx"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    mean = sum(latencies) / len(latencies) * 1000 if latencies else 0.0
    return _figures(len(latencies), elapsed, pct(0.50), pct(0.99), mean, failures["errors"],
                    failures["non2xx"], "python")


def run_python(base: str, requests: list[Request], *, seconds: float | None, connections: int) -> dict:
    """The Python generator in a child process; `seconds=None` sends each request once."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([{"path": r.path, "body": r.body.decode(), "headers": r.headers, "method": r.method}
                   for r in requests], f)
    try:
        args = [sys.executable, __file__, base, f.name, "--connections", str(connections)]
        if seconds is not None:
            args += ["--seconds", str(seconds)]
        out = subprocess.run(args, capture_output=True, text=True, check=True,
                             timeout=(seconds or 600) + 120)
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(base: str, requests: list[Request], *, seconds: float, connections: int) -> dict:
    """A timed load, with wrk when it is there."""
    if has_wrk():
        return run_wrk(base, requests, seconds=seconds, connections=connections)
    return run_python(base, requests, seconds=seconds, connections=connections)


def _figures(count: int, seconds: float, p50: float, p99: float, mean: float, errors: int,
             non2xx: int, tool: str) -> dict:
    return {"requests": count, "seconds": round(seconds, 3),
            "rps": round(count / seconds, 1) if seconds else 0.0,
            "p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "mean_ms": round(mean, 3),
            "errors": errors, "non2xx": non2xx, "tool": tool}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base")
    parser.add_argument("requests", type=Path)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    raw = json.loads(args.requests.read_text())
    requests = [Request(r["path"], r["body"].encode(), r["headers"], r["method"]) for r in raw]
    print(json.dumps(asyncio.run(_generate(args.base, requests, args.seconds, args.connections))))


if __name__ == "__main__":
    main()

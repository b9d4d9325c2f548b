"""`gateway serve`: bind the port first, run uvicorn on it, and say what runs where once
the gateway answers; with `--workers N`, N processes of our own supervision.

The listening sockets are ours, not uvicorn's:
- a port in use fails at once, naming the port, before the catalog, the store or the
  emulator start (uvicorn would find out after the whole start-up);
- they are made with `IPPROTO_TCP`, so asyncio sets TCP_NODELAY on every accepted
  connection. A socket made with proto 0 leaves accepted connections with Nagle on, and
  small responses wait for delayed ACKs: a flat ~360 requests/s whatever the work
  (uvicorn issue 3149, still so for its `--workers` socket when we measured);
- with several workers on Linux each worker has a socket of its own on the port
  (SO_REUSEPORT), so the kernel spreads connections over them. On one shared socket
  (uvicorn's `--workers`) whichever worker wakes first takes the connection, and one
  worker took nearly all of them (0.0 / 0.09 / 0.28 cores busy under load).

SO_REUSEPORT would also let a second gateway join a running one's port silently, so
before binding its sockets the parent listens once without it (which fails on a port
anyone listens on) and holds a lock named after the address (an abstract Unix socket:
gone with the process, however it ends) against a second gateway starting at the
same moment.

Workers (`_Supervisor`): the parent starts them, says "ready" once every one has
started, and keeps the sockets, so a worker's queued connections wait for its
replacement. A worker that dies after it started is started again (logged as an
error); one that dies before it started stops the gateway with exit 1 (the next one
would fail the same way). SIGINT or SIGTERM stops the workers gracefully; a worker
whose parent is gone (even `kill -9`) stops itself, so none is left serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import connection, get_context
from pathlib import Path
from typing import Any

import uvicorn

SHARES_PORTS = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")  # the kernel spreads
BACKLOG = 2048  # uvicorn's default
STOP_SECONDS = 30.0  # how long stopping workers may finish their requests before they are killed


class PortInUse(Exception):
    pass


@dataclass(frozen=True)
class Listener:
    sockets: tuple[socket.socket, ...]  # one, or one per worker
    host: str
    port: int
    lock: socket.socket | None = field(default=None, repr=False)

    @property
    def sock(self) -> socket.socket:
        return self.sockets[0]

    @property
    def address(self) -> str:
        """What it really listens on, as `host:port` (`0.0.0.0` means every interface)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def socket_of(self, worker: int) -> socket.socket:
        return self.sockets[worker % len(self.sockets)]

    def first_only(self) -> Listener:
        """The first socket alone (one worker after all): the others would take
        connections that nobody accepts."""
        for sock in self.sockets[1:]:
            sock.close()
        return Listener(self.sockets[:1], self.host, self.port, self.lock)

    def close(self) -> None:
        for sock in (*self.sockets, *([self.lock] if self.lock else [])):
            sock.close()


def bind(host: str, port: int, *, workers: int = 1) -> Listener:
    """The socket(s) `run` serves on; PortInUse, one line naming the port, if it cannot."""
    if workers == 1 or not SHARES_PORTS:
        sock = _socket(host, port)
        return Listener((sock,), host, sock.getsockname()[1])
    probe = _socket(host, port, listen=True)  # fails on a port anyone listens on
    port = probe.getsockname()[1]
    try:
        lock = _address_lock(host, port)
    finally:
        probe.close()
    sockets = tuple(_socket(host, port, listen=True, share=True) for _ in range(workers))
    return Listener(sockets, host, port, lock)


def _socket(host: str, port: int, *, listen: bool = False, share: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise _port_in_use(host, port, exc) from None
    sock.set_inheritable(True)
    return sock


def _address_lock(host: str, port: int) -> socket.socket:
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock.bind(f"\0commerce-gateway {host}:{port}")
    except OSError as exc:
        lock.close()
        raise _port_in_use(host, port, exc) from None
    return lock


def _port_in_use(host: str, port: int, exc: OSError) -> PortInUse:
    if exc.errno in (98, 48):  # EADDRINUSE on Linux, macOS
        return PortInUse(f"port {port} on {host} is already in use (another gateway? "
                         f"stop it, or pick another port with --port)")
    return PortInUse(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def available_cores() -> int:
    """The cores this process may use: its CPU affinity, within a cgroup CPU quota
    (`docker run --cpus 2`, a container's CPU limit), at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, int(quota)) if quota else cores)


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """cgroup v2's cpu.max ("max 100000", "200000 100000"), else v1's quota and period."""
    for files in (("cpu.max",), ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")):
        try:
            limit, period = " ".join((root / f).read_text() for f in files).split()
            return int(limit) / int(period) if limit not in ("max", "-1") else None
        except (OSError, ValueError):
            continue
    return None


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, calling `on_ready` once the app has started and the socket listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_ready()


def run(app: Any, listener: Listener, *, workers: int, on_ready: Callable[[], None],
        **options: Any) -> int:
    """Serve `app` (an ASGI app, or with workers > 1 an import string of a factory) on the
    bound listener until interrupted; 0 when it stopped cleanly, 1 when start-up failed."""
    # uvicorn's own start-up lines repeat what `on_ready` prints; its errors still show.
    config = uvicorn.Config(app, workers=workers, log_level="warning", **options)
    if workers == 1:
        server = _AnnouncingServer(config, on_ready)
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[listener.sock])
        return 0 if server.started else 1
    return _Supervisor(config, listener, on_ready).run()


# ---- several workers ---------------------------------------------------------------------

@dataclass
class _Worker:
    number: int
    process: Any
    ready: connection.Connection  # the worker says when it has started
    alive: connection.Connection  # ours: when it closes (the parent is gone), the worker stops
    started: bool = False

    def poll(self) -> None:
        try:
            if not self.started and self.ready.poll():
                self.started = self.ready.recv()
        except (EOFError, OSError):
            pass


class _Supervisor:
    def __init__(self, config: uvicorn.Config, listener: Listener, on_ready: Callable[[], None]) -> None:
        self.config, self.listener, self.on_ready = config, listener, on_ready
        self.context = get_context("spawn")
        self.stopping = False

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        workers = [self._start(n) for n in range(self.config.workers)]
        announced = False
        try:
            while not self.stopping:
                connection.wait([w.process.sentinel for w in workers]
                                + [w.ready for w in workers if not w.started], timeout=0.5)
                for w in workers:
                    w.poll()
                if not announced and all(w.started for w in workers):
                    announced = True
                    self.on_ready()
                for n, w in enumerate(workers):
                    if w.process.exitcode is None or self.stopping:
                        continue
                    if not w.started:
                        say(f"gateway: worker {n + 1} stopped with exit code {w.process.exitcode} "
                            "before it started: stopping", logging.ERROR)
                        return 1
                    say(f"gateway: worker {n + 1} (pid {w.process.pid}) died with exit code "
                        f"{w.process.exitcode}: starting another", logging.ERROR)
                    w.alive.close()
                    workers[n] = self._start(n)
            return 0
        finally:
            self.listener.close()  # the workers' own copies stay open until each one stops
            self._stop_all(workers)

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _start(self, number: int) -> _Worker:
        ready_reader, ready_writer = self.context.Pipe(duplex=False)
        alive_reader, alive_writer = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_worker_main, name=f"gateway-worker-{number + 1}",
            args=(self.config, self.listener.socket_of(number), ready_writer, alive_reader))
        # Ctrl+C reaches every process of the terminal's group: a worker still importing
        # ignores it (no traceback) and, once serving, stops as uvicorn does; we stop it too.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            process.start()
        finally:
            signal.signal(signal.SIGINT, previous)
        ready_writer.close()
        alive_reader.close()
        return _Worker(number, process, ready_reader, alive_writer)

    def _stop_all(self, workers: list[_Worker]) -> None:
        for w in workers:
            if w.process.exitcode is None:
                os.kill(w.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or STOP_SECONDS)
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.exitcode is None:
                say(f"gateway: worker {w.number + 1} did not stop in time: killed", logging.ERROR)
                w.process.kill()
                w.process.join()
            w.alive.close()


def _worker_main(config: uvicorn.Config, sock: socket.socket, ready: connection.Connection,
                 alive: connection.Connection) -> None:
    """One worker process: uvicorn on its socket, until told to stop or the parent is gone."""
    threading.Thread(target=_stop_when_orphaned, args=(alive,), daemon=True).start()
    config.configure_logging()
    server = _AnnouncingServer(config, lambda: ready.send(True))
    server.run(sockets=[sock])


def _stop_when_orphaned(alive: connection.Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        alive.recv()  # the parent never writes: this returns when its end closes
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful stop
    time.sleep(STOP_SECONDS)
    os._exit(1)


def say(line: str, level: int = logging.INFO) -> None:
    """A start-up line for the person at the terminal; where logs are JSON (production, a
    container, a pipe), a log record like every other line, so each line stays parseable."""
    from telemetry import logs

    if logs.log_format() == "json":
        logging.getLogger("gateway.serve").log(level, line.strip())
    else:
        print(line, file=sys.stderr, flush=True)

"""Several worker processes (serving.py): every worker takes connections, accepted
connections do not wait on delayed ACKs, a port stays one server's, and workers live and
die with their parent. A small ASGI app that answers with its pid, under real uvicorn
workers started by serving.run, as `gateway serve --workers N` starts them."""

from __future__ import annotations

import functools
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import serving
from tests.services import ROOT, command_env, free_port, run_gateway

APP = '''
import os, sys
sys.path.insert(0, {root!r})
import serving

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            failed = os.environ.get("FAIL_AT_START")
            await send({{"type": "lifespan.startup.failed" if failed else "lifespan.startup.complete"}})
        await send({{"type": "lifespan.shutdown.complete"}})
        return
    pid = str(os.getpid()).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(pid)).encode())]
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    await send({{"type": "http.response.body", "body": pid}})

if __name__ == "__main__":
    listener = serving.bind("127.0.0.1", int(sys.argv[1]), workers=int(sys.argv[2]))
    ready = lambda: print("ready", flush=True)
    sys.exit(serving.run("serve_app:app", listener, workers=int(sys.argv[2]), on_ready=ready))
'''


class Served:
    """serve_app.py under serving.run with N workers, in a session of its own."""

    def __init__(self, tmp_path: Path, workers: int = 2, env: dict | None = None) -> None:
        script = tmp_path / "serve_app.py"
        script.write_text(APP.format(root=str(ROOT)))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve_app.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, str(script), str(self.port), str(workers)],
                                         cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})}, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> Served:
        deadline = time.monotonic() + timeout
        while "ready" not in self.output():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.output()
            time.sleep(0.05)
        return self

    def output(self) -> str:
        return self.log.read_text()

    def pid_answering(self) -> int:
        """The worker that answers a new connection."""
        return int(httpx.get(self.url, timeout=10, headers={"connection": "close"}).text)

    def workers(self) -> set[int]:
        return {pid for pid in children(self.proc.pid) if b"spawn_main" in cmdline(pid)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def cmdline(pid: int) -> bytes:
    """A child's command line, or nothing for one that was reaped after it was listed."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def until(check, timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not so after {timeout} s: {what}"
        time.sleep(0.1)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@pytest.fixture
def served(tmp_path):
    server = Served(tmp_path).wait_ready()
    yield server
    server.stop()


@pytest.mark.skipif(not serving.SHARES_PORTS, reason="SO_REUSEPORT spreads connections on Linux")
def test_connections_that_come_together_are_spread_over_every_worker(served):
    """As a load generator opens them: on one shared socket, the first worker to wake
    accepts every waiting connection (asyncio accepts until none is left)."""
    workers = served.workers()
    for pid in workers:  # so the connections wait in the kernel, all at once
        os.kill(pid, signal.SIGSTOP)
    try:
        waiting = [socket.create_connection(("127.0.0.1", served.port), timeout=10) for _ in range(32)]
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    answering = []
    for sock in waiting:
        with sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            answering.append(int(b"".join(iter(functools.partial(sock.recv, 4096), b"")).split(b"\r\n\r\n", 1)[1]))
    assert set(answering) == workers and len(workers) == 2
    assert min(answering.count(pid) for pid in workers) >= 6, answering  # 32 split by a hash


def test_a_small_answer_does_not_wait_for_a_delayed_ack(served):
    """Nagle's algorithm holds the body behind the unacknowledged headers until the
    client's delayed ACK (~40 ms on Linux): TCP_NODELAY on accepted sockets (uvicorn 3149)."""
    with httpx.Client(base_url=served.url, timeout=10) as client:  # one keep-alive connection
        client.get("/")
        times = []
        for _ in range(30):
            started = time.perf_counter()
            client.get("/")
            times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.02, times


def test_every_worker_socket_is_tcp_with_the_port_shared_only_among_them():
    listener = serving.bind("127.0.0.1", 0, workers=3)
    try:
        assert len(listener.sockets) == (3 if serving.SHARES_PORTS else 1)
        assert {s.proto for s in listener.sockets} == {socket.IPPROTO_TCP}
        assert {s.getsockname()[1] for s in listener.sockets} == {listener.port}
        for workers in (1, 2):  # a second gateway, either way
            with pytest.raises(serving.PortInUse, match=f"port {listener.port} .* in use"):
                serving.bind("127.0.0.1", listener.port, workers=workers)
    finally:
        listener.close()
    serving.bind("127.0.0.1", listener.port, workers=2).close()  # free again once closed


@pytest.mark.skipif(not serving.SHARES_PORTS, reason="the lock guards SO_REUSEPORT")
def test_two_gateways_starting_together_do_not_share_a_port():
    port = free_port()
    lock = serving._address_lock("127.0.0.1", port)  # the other one, between its probe and bind
    try:
        with pytest.raises(serving.PortInUse, match="in use"):
            serving.bind("127.0.0.1", port, workers=2)
    finally:
        lock.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_gateway_serve_on_a_port_workers_hold_fails_at_once_in_one_line(served, tmp_path, workers):
    env = {**command_env(tmp_path), "STRIPE_SECRET": "sk_test_x"}
    started = time.monotonic()
    result = run_gateway("serve", "--port", str(served.port), "--workers", workers, env=env)
    assert time.monotonic() - started < 5
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert f"port {served.port}" in result.stderr and "in use" in result.stderr
    assert {served.pid_answering() for _ in range(8)} <= served.workers()  # still its own


def test_a_worker_that_dies_is_replaced_and_said(served):
    before = served.workers()
    victim = served.pid_answering()
    os.kill(victim, signal.SIGKILL)
    until(lambda: len(served.workers()) == 2 and victim not in served.workers(), what=served.output())
    until(lambda: accepts(served.port))
    answering = {served.pid_answering() for _ in range(32)}
    assert victim not in answering and answering <= served.workers()
    assert len(before & served.workers()) == 1
    assert f"(pid {victim}) died with exit code -9: starting another" in served.output()


def test_a_worker_that_cannot_start_stops_everything_with_exit_1(tmp_path):
    server = Served(tmp_path, env={"FAIL_AT_START": "1"})
    try:
        assert server.proc.wait(60) == 1
    finally:
        server.stop()
    assert "before it started: stopping" in server.output()
    assert "ready" not in server.output().replace("already", "")


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl+C", "kill -9"])
def test_no_worker_outlives_its_parent(served, how):
    spawned = children(served.proc.pid)
    assert len(served.workers()) == 2
    if how == "SIGTERM":
        served.proc.send_signal(signal.SIGTERM)
    elif how == "Ctrl+C":  # the terminal signals its whole foreground group
        os.killpg(served.proc.pid, signal.SIGINT)
    else:
        served.proc.kill()
    code = served.proc.wait(30)
    until(lambda: not any(running(pid) for pid in spawned), what=how)
    assert not accepts(served.port)
    if how != "kill -9":
        assert code == 0 and "Traceback" not in served.output(), served.output()


def serve_until_ready(env: dict, *args: str) -> str:
    """`gateway serve ARGS` until it says it is ready; what it said by then."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port), *args],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while not any("ready" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"gateway exited ({proc.wait()}): {lines}"
            lines.append(line)
        assert httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"},
                          timeout=30).json() == {"data": {"__typename": "Query"}}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    return "".join(lines)


def test_workers_auto_is_one_per_core_or_one_where_payments_are_emulated(tmp_path, stripe_emulator_url):
    cores = serving.available_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    real = {**command_env(tmp_path), "STRIPE_SECRET": "sk_test_auto", "STRIPE_API_BASE": stripe_emulator_url,
            "GATEWAY_WORKERS": "auto"}
    said = serve_until_ready(real)
    assert (f"with {cores} workers" in said) == (cores > 1), said
    emulated = serve_until_ready(command_env(tmp_path), "--workers", "auto")
    assert "EMULATED" in emulated and " workers" not in emulated, emulated


@pytest.mark.parametrize("files, cores", [
    ({"cpu.max": "max 100000\n"}, None), ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None), ({}, None)])
def test_a_container_cpu_limit_is_read_from_its_cgroup(tmp_path, files, cores):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert serving.cgroup_cpu_quota(tmp_path) == cores

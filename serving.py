"""`gateway serve`: bind the port first, run uvicorn on it, and say what runs where once
the gateway answers.

The listening socket is ours, not uvicorn's, for two reasons:
- a port in use fails at once, naming the port, before the catalog, the store or the
  emulator start (uvicorn would find out after the whole start-up);
- it is made with `IPPROTO_TCP`, so asyncio sets TCP_NODELAY on every accepted connection.
  A socket made with proto 0 (uvicorn's `bind_socket`, used for `--workers`) leaves
  accepted connections with Nagle on, and small responses wait for delayed ACKs
  (uvicorn issue 3149).
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from typing import Any, Callable

import uvicorn


class PortInUse(Exception):
    pass


@dataclass(frozen=True)
class Listener:
    sock: socket.socket
    host: str
    port: int

    @property
    def address(self) -> str:
        """What it really listens on, as `host:port` (`0.0.0.0` means every interface)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def bind(host: str, port: int) -> Listener:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48):  # EADDRINUSE on Linux, macOS
            raise PortInUse(f"port {port} on {host} is already in use (another gateway? "
                            f"stop it, or pick another port with --port)") from None
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return Listener(sock, *sock.getsockname()[:2])


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
        try:
            server.run(sockets=[listener.sock])
        except KeyboardInterrupt:
            pass
        return 0 if server.started else 1
    from uvicorn.supervisors import Multiprocess

    on_ready()  # the port is bound; each worker starts the app on its own
    try:
        Multiprocess(config, sockets=[listener.sock]).run()
    except KeyboardInterrupt:
        pass
    return 0


def say(line: str) -> None:
    """A start-up line for the person at the terminal; where logs are JSON (production, a
    container, a pipe), a log record like every other line, so each line stays parseable."""
    import logging

    from telemetry import logs

    if logs.log_format() == "json":
        logging.getLogger("gateway.serve").info(line.strip())
    else:
        print(line, file=sys.stderr, flush=True)

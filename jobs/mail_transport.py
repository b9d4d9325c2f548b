"""Where rendered messages go: an SMTP server (aiosmtplib; SES, Postmark and most providers
have SMTP endpoints) or, in development with no SMTP_URL, .eml files in a directory
(var/outbox/) that the dev page lists.

A transport raises DeliveryFailed when a message was not delivered; `permanent` when
trying again cannot help (the server refused the recipient or the message with a 5xx).
Anything else (connection refused, timeouts, 4xx, a refused login) is worth retrying.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

SEND_TIMEOUT_SECONDS = 20  # per SMTP command; the whole send is bounded by the sender's lease


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Transport(Protocol):
    async def send(self, mail: EmailMessage, name: str) -> None:
        """Deliver `mail` (`name`: its identity, for a file name); DeliveryFailed if not."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    username: str | None = None
    password: str | None = None


class SmtpTransport:
    """One connection for a whole drain, opened on the first message, and again after a failure."""

    def __init__(self, server: SmtpServer, *, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        self.server = server
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        server = self.server
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=self.timeout,
                                 use_tls=server.security == "tls", start_tls=server.security == "starttls")
        await client.connect()
        if server.username:
            await client.login(server.username, server.password or "")
        self._client = client
        return client

    async def send(self, mail: EmailMessage, name: str) -> None:
        try:
            client = await self._connected()
            await client.send_message(mail)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPDataError) as exc:
            await self.close()
            codes = [r.code for r in exc.recipients] if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) \
                else [exc.code]
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}", permanent=all(500 <= c < 600 for c in codes)) \
                from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.close()
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


class FileTransport:
    """Development: each message as {directory}/{name}.eml (written whole, then renamed in,
    so the dev page never lists half a file; the same message twice is the same file)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, mail: EmailMessage, name: str) -> None:
        await asyncio.to_thread(self._write, bytes(mail), name)

    def _write(self, body: bytes, name: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / (safe_name(name) + ".eml")
            partial = path.with_suffix(".eml.partial")
            partial.write_bytes(body)
            os.replace(partial, path)
        except OSError as exc:
            raise DeliveryFailed(f"cannot write to {self.directory}: {exc.strerror}") from None

    async def close(self) -> None:
        return None


def safe_name(name: str) -> str:
    """A file name from a message's identity: letters, digits, dot, dash and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:200]

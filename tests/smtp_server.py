"""A real SMTP server on loopback for the email tests (aiosmtpd, in its own thread): it keeps
every message it accepts, parsed, and can be told to refuse for a while (`refuse` with a
4xx or 5xx reply), or be stopped and started again on the same port (a server that is down)."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.services import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_data: str | None = None  # e.g. "451 4.3.0 try again later"
        self.refuse_rcpt: str | None = None  # e.g. "550 5.1.1 no such mailbox"
        self.logins: list[str] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            return self.refuse_data
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(m["Subject"]) for m in self.messages]

    def wait_for(self, count: int, timeout: float = 15) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} messages, not {count}: {self.subjects()}"
            time.sleep(0.05)
        return list(self.messages)


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port; `credentials` turns on AUTH (over plain text, as on loopback)."""

    def __init__(self, port: int | None = None, credentials: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self.credentials = credentials
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        auth = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"smtp://{auth}127.0.0.1:{self.port}"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = self.credentials is not None and (auth_data.login.decode(), auth_data.password.decode()) == \
            self.credentials
        if ok:
            self.inbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    def start(self) -> SmtpServer:
        if self.credentials:
            self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                          authenticator=self._authenticate, auth_require_tls=False)
        else:
            self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

"""The email settings turned into the outbox's parts, for the entry points (server, CLI,
Lambda): the policy commerce records messages by, who they come from, and where the
sender delivers them (SMTP_URL; in development without it, .eml files in var/outbox/)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from commerce import emails
from settings import Settings

if TYPE_CHECKING:
    from commerce.email_content import Sender
    from jobs.mail_transport import Transport

log = logging.getLogger("gateway.emails")


def configure(settings: Settings) -> None:
    """Once per process, before any order is written."""
    emails.configure(emails.Policy(max_age_seconds=settings.email_max_age_hours * 3600,
                                   refund_max_age_seconds=settings.email_refund_max_age_days * 86400))


# Rendering (Jinja2) and delivery (aiosmtplib) load only where a sender runs: every start,
# a Lambda cold start included, calls configure() and nothing else of this module.

def sender_for(settings: Settings) -> Sender:
    from commerce.email_content import Sender

    return Sender(settings.sender_address, settings.order_url_template)


def transport_for(settings: Settings) -> Transport | None:
    """SMTP when configured; files in development; None in production without SMTP_URL
    (messages are recorded and wait: the backlog alarm says so)."""
    from jobs.mail_transport import FileTransport, SmtpServer, SmtpTransport

    smtp = settings.smtp
    if smtp is not None:
        return SmtpTransport(SmtpServer(smtp.host, smtp.port, smtp.security, smtp.username, smtp.password))
    if settings.production:
        return None
    return FileTransport(settings.outbox_dir)

"""The sender: delivers what the outbox holds (`gateway send-emails`, the scheduled function,
and a background task in `gateway serve`), retrying with backoff, and marks each message sent.

- What is pending is read from the OUTBOX partition (a pointer per pending message, removed
  once it is sent or given up), a page of 100 at a time: O(pending), never the sent ones.
- Any number of senders at once (workers, the CLI, the schedule): a sender delivers a message
  only after taking its lease, a conditional write over the message's version (as the sync
  job's lease, per message), which expires, so a sender that died frees it for the next.
- A failure is kept on the message (attempts, next attempt, last error): the next attempt
  waits 30 s, doubling up to 6 h, with jitter; after 16 attempts (about two days) or a
  permanent refusal (5xx for the recipient or the message) it is given up: FAILED, counted.
  (A library such as tenacity retries within one call; this schedule outlives the process,
  so it is on the record, and computed here in `backoff`.)
- SMTP is at least once: a sender that dies after the server accepted a message and before
  its SENT write lands leaves it to be sent again when its lease expires. That window is
  the one store write after the server's answer to DATA; the Message-ID is the message's
  identity, so a second copy carries the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

from commerce.email_content import Sender, render
from commerce.orders import find_order, record_events
from commerce.timeline import email_sent
from jobs.mail_transport import DeliveryFailed, Transport
from store import Store, keys
from store.base import StoreError
from store.records import Order, OutboxMessage, OutboxPointer, Unreadable, put_record, record_of
from store.records.emails import FAILED, PENDING, SENT
from telemetry.metrics import EMAIL_FAILURES, EMAIL_OLDEST_PENDING, EMAILS_PENDING, EMAILS_SENT, log_line

log = logging.getLogger("gateway.emails")

LEASE_SECONDS = 300  # longer than a send may take (SEND_LIMIT_SECONDS)
SEND_LIMIT_SECONDS = 120
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 6 * 3600
MAX_ATTEMPTS = 16
PAGE = 100


@dataclass
class DrainReport:
    sent: int = 0
    retrying: int = 0  # failed this time, tried again later
    given_up: int = 0
    pending: int = 0  # still waiting after this drain (not yet due, retrying, or held by another sender)
    oldest_pending_seconds: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def backoff(attempts: int) -> int:
    """Seconds before the next try after `attempts` failed ones: 30 s doubling to 6 h, ±20 %."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return int(delay * random.uniform(0.8, 1.2))


async def drain(store: Store, transport: Transport, sender: Sender, *, now: int | None = None,
                limit: int = 1000, budget_seconds: float = 240) -> DrainReport:
    """Deliver every pending message that is due (at most `limit`, starting none after
    `budget_seconds`: the scheduled function's run ends well before its timeout), then report."""
    holder = uuid.uuid4().hex
    stop_at = time.monotonic() + budget_seconds
    report = DrainReport()
    clock = now if now is not None else int(time.time())
    oldest: int | None = None
    cursor, tried = None, 0
    try:
        while True:
            page = await store.query(keys.OUTBOX, prefix=keys.OUTBOX_PREFIX, limit=PAGE, cursor=cursor,
                                     newest_first=False)
            pointers = [_pointer(item) for item in page.items]
            wanted = [p.message_key for p in pointers if p is not None]
            found = await store.batch_get(wanted) if wanted else {}
            for pointer, item in zip(pointers, page.items, strict=True):
                try:
                    message = record_of(found, pointer.message_key, OutboxMessage) if pointer else None
                except Unreadable as why:  # kept for a person to look at; counted as pending
                    log.error("unreadable email %s: %s", pointer.message_key if pointer else "?", why)
                    report.pending += 1
                    continue
                if pointer is None or message is None or message.status != PENDING:
                    await store.delete(keys.key_of(item))  # sent, given up, or nothing to send
                    continue
                due = message.next_attempt_at <= clock and message.lease_until <= clock
                if due and tried < limit and time.monotonic() < stop_at:
                    tried += 1
                    outcome = await _deliver(store, transport, sender, message, holder, clock)
                    if outcome in ("sent", "given_up"):
                        setattr(report, outcome, getattr(report, outcome) + 1)
                        continue
                    if outcome == "retrying":
                        report.retrying += 1
                report.pending += 1
                oldest = message.created_at if oldest is None else min(oldest, message.created_at)
            cursor = page.cursor
            if cursor is None:
                break
    finally:
        await transport.close()
    report.oldest_pending_seconds = max(0, clock - oldest) if oldest is not None else 0
    EMAILS_PENDING.set(report.pending)
    EMAIL_OLDEST_PENDING.set(report.oldest_pending_seconds)
    if report.sent or report.retrying or report.given_up or report.pending:  # an idle drain says nothing
        log_line("email_outbox", outcome="drained", sent=report.sent, retrying=report.retrying,
                 givenUp=report.given_up, pending=report.pending,
                 oldestPendingSeconds=report.oldest_pending_seconds)
    return report


def _pointer(item: dict[str, Any]) -> OutboxPointer | None:
    try:
        return OutboxPointer.from_item(item)
    except Unreadable as why:
        log.warning("unreadable outbox pointer %s removed: %s", str(item.get(keys.SK))[:200], why)
        return None


async def _deliver(store: Store, transport: Transport, sender: Sender, message: OutboxMessage,
                   holder: str, now: int) -> str:
    """sent | retrying | given_up | busy (another sender holds it, or it changed)."""
    leased = replace(message, lease_holder=holder, lease_until=now + LEASE_SECONDS, updated_at=now,
                     version=message.version + 1)
    if not await put_record(store, leased, if_version=message.version):
        return "busy"
    try:
        order = await find_order(store, message.order_id)
        if order is None:
            raise DeliveryFailed("the order is gone", permanent=True)
        mail = render(message, order, sender)
        async with asyncio.timeout(SEND_LIMIT_SECONDS):
            await transport.send(mail, file_name(message, order.order_number))
    except (DeliveryFailed, Unreadable, TimeoutError) as exc:
        return await _failed(store, leased, exc, now)
    # The server has the message: record that at once (the at-least-once window is this write).
    done = replace(leased, status=SENT, sent_at=int(time.time()), lease_holder=None, lease_until=0,
                   last_error=None, version=leased.version + 1)
    if not await put_record(store, done, if_version=leased.version):
        log.warning("email %s sent, but its lease had passed to another sender", message.key)
    await store.delete(message.pointer.key)
    EMAILS_SENT.labels(message.kind).inc()
    await _on_timeline(store, order, done)
    log_line("email_sent", outcome="sent", orderId=message.order_id, emailKind=message.kind, ref=message.ref,
             attempts=message.attempts + 1)
    return "sent"


async def _on_timeline(store: Store, order: Order, sent: OutboxMessage) -> None:
    """The order's timeline says the email went (once: the event's identity is the message's).
    It is sent whatever happens here, so a store failure is logged, not retried."""
    assert sent.sent_at is not None
    try:
        await record_events(store, order, {f"email:{sent.kind}#{sent.ref}": email_sent(sent.sent_at, sent.kind)})
    except (StoreError, Unreadable, RuntimeError) as exc:
        log.warning("email %s sent; its timeline event was not recorded: %s", sent.key, exc)


async def _failed(store: Store, leased: OutboxMessage, exc: Exception, now: int) -> str:
    attempts = leased.attempts + 1
    permanent = isinstance(exc, (DeliveryFailed, Unreadable)) and getattr(exc, "permanent", True)
    give_up = permanent or attempts >= MAX_ATTEMPTS
    reason = str(exc) or type(exc).__name__
    failed = replace(leased, status=FAILED if give_up else PENDING, attempts=attempts,
                     next_attempt_at=now + backoff(attempts), last_error=reason, lease_holder=None,
                     lease_until=0, version=leased.version + 1)
    await put_record(store, failed, if_version=leased.version)
    outcome = "given_up" if give_up else "retrying"
    EMAIL_FAILURES.labels(leased.kind, outcome).inc()
    log_line("email_failed", orderId=leased.order_id, emailKind=leased.kind, ref=leased.ref, attempts=attempts,
             outcome=outcome, reason=reason[:200])
    (log.error if give_up else log.warning)("email %s/%s for order %s: attempt %d failed (%s): %s",
                                            leased.kind, leased.ref, leased.order_id, attempts, outcome, reason)
    if give_up:
        await store.delete(leased.pointer.key)
    return outcome


def file_name(message: OutboxMessage, order_number: str) -> str:
    return f"{message.created_at}-{order_number}-{message.kind}-{message.ref}"


class BackgroundSender:
    """`gateway serve`'s sender: a drain every `interval` seconds, and one soon after a
    message is recorded in this process (commerce.emails.listen), so development and a
    single machine send without a cron. Failures are logged; the loop goes on. Stopping
    lets a drain in progress finish (its sends are short), so a stop does not cut one
    between the server's acceptance and the SENT write."""

    def __init__(self, store: Store, transport: Transport, sender: Sender, *, interval: float = 30) -> None:
        self.store, self.transport, self.sender, self.interval = store, transport, sender, interval
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="email-sender")

    def nudge(self) -> None:
        """Thread-safe: wake the sender now."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self, grace: float = 10) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, grace)
            except TimeoutError:
                log.warning("the email sender did not stop within %s s", grace)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await drain(self.store, self.transport, self.sender)
            except Exception:
                log.exception("email drain failed; trying again in %s s", self.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

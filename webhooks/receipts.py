"""Exactly-once processing of Stripe events, durable first.

A delivery first claims the event: `EVENT#{id}` / `RECEIPT` written if absent, with a
short lease (its `expiresAt`). Done, the receipt is rewritten as done and kept for 30
days, so duplicates are answered without reprocessing. A crash leaves a lease that
expires, so the next delivery reclaims the event: nothing is ever wedged. A failure
releases the claim and counts the attempt. An event becomes a dead letter
(`DEADLETTER` / `EVENT#{id}`, for `gateway replay-dead-letters`) after MAX_ATTEMPTS
failures spread over at least `dead_after` seconds since the first: copies delivered at
once during a short outage are not Stripe retrying for an hour, and answering them 200
would stop Stripe's retries for good. The event is kept as its JSON text: any JSON Stripe
sends (floats included) can be stored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import orjson

from store import Store, keys
from store.base import now_epoch
from store.records import DeadLetter, EventFailures, EventReceipt, get_record, put_record

LEASE_SECONDS = 60
KEEP_DONE_SECONDS = 30 * 86400
MAX_ATTEMPTS = 5
DEAD_AFTER_SECONDS = 600

Claim = Literal["new", "done", "busy"]


async def claim(store: Store, event_id: str, event_type: str, *, lease: int = LEASE_SECONDS) -> Claim:
    now = now_epoch()
    receipt = EventReceipt(event_id, event_type, "processing", now + lease, claimed_at=now)
    for _ in range(2):  # a second try when a lease expired between our put and get
        if await put_record(store, receipt, if_absent=True):
            return "new"
        existing = await get_record(store, EventReceipt, receipt.key)
        if existing is not None:
            return "done" if existing.status == "done" else "busy"
    return "busy"


async def finish(store: Store, event_id: str, event_type: str, outcome: str) -> None:
    now = now_epoch()
    await put_record(store, EventReceipt(event_id, event_type, "done", now + KEEP_DONE_SECONDS, outcome=outcome,
                                         done_at=now))


async def fail(store: Store, event: dict[str, Any], error: str, *,
               dead_after: int = DEAD_AFTER_SECONDS) -> bool:
    """Release the claim and count the failure; True when the event became a dead letter."""
    event_id = event["id"]
    previous = await get_record(store, EventFailures, keys.event_failures(event_id))
    now = now_epoch()
    attempts = (previous.attempts if previous else 0) + 1
    first = previous.first_at if previous else now
    await put_record(store, EventFailures(event_id, attempts, first, error[:2000], now))
    if attempts >= MAX_ATTEMPTS and now - first >= dead_after:
        await put_record(store, DeadLetter(event_id, event["type"], orjson.dumps(event).decode(), error[:2000],
                                           attempts, now))
        await finish(store, event_id, event["type"], "dead-letter")
        return True
    await store.delete(keys.event_receipt(event_id))
    return False


async def dead_letters(store: Store, limit: int = 100) -> list[DeadLetter]:
    page = await store.query(keys.DEAD_LETTERS, prefix="EVENT#", limit=limit, newest_first=False)
    return [DeadLetter.from_item(item) for item in page.items]


def failed_again(letter: DeadLetter, error: str) -> DeadLetter:
    """The dead letter after another failed replay."""
    return replace(letter, error=error[:2000], attempts=letter.attempts + 1)

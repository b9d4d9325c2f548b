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

from typing import Any, Literal

import orjson

from store import Store, keys
from store.base import now_epoch

LEASE_SECONDS = 60
KEEP_DONE_SECONDS = 30 * 86400
MAX_ATTEMPTS = 5
DEAD_AFTER_SECONDS = 600

Claim = Literal["new", "done", "busy"]


async def claim(store: Store, event_id: str, event_type: str, *, lease: int = LEASE_SECONDS) -> Claim:
    key = keys.event_receipt(event_id)
    now = now_epoch()
    for _ in range(2):  # a second try when a lease expired between our put and get
        if await store.put({keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "EventReceipt",
                            "eventType": event_type, "status": "processing", "claimedAt": now,
                            keys.EXPIRES_AT: now + lease}, if_absent=True):
            return "new"
        existing = await store.get(key)
        if existing is not None:
            return "done" if existing["status"] == "done" else "busy"
    return "busy"


async def finish(store: Store, event_id: str, event_type: str, outcome: str) -> None:
    key = keys.event_receipt(event_id)
    now = now_epoch()
    await store.put({keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "EventReceipt",
                     "eventType": event_type, "status": "done", "outcome": outcome,
                     "doneAt": now, keys.EXPIRES_AT: now + KEEP_DONE_SECONDS})


async def fail(store: Store, event: dict[str, Any], error: str, *,
               dead_after: int = DEAD_AFTER_SECONDS) -> bool:
    """Release the claim and count the failure; True when the event became a dead letter."""
    event_id = event["id"]
    key = keys.event_failures(event_id)
    previous = await store.get(key)
    now = now_epoch()
    attempts = (previous or {}).get("attempts", 0) + 1
    first = (previous or {}).get("firstAt", now)
    await store.put({keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "EventFailures",
                     "attempts": attempts, "firstAt": first, "lastError": error[:2000], "lastAt": now})
    if attempts >= MAX_ATTEMPTS and now - first >= dead_after:
        dead = keys.dead_letter(event_id)
        await store.put({keys.PK: dead.pk, keys.SK: dead.sk, keys.ENTITY: "DeadLetter",
                         "eventId": event_id, "eventType": event["type"],
                         "eventJson": orjson.dumps(event).decode(),
                         "error": error[:2000], "attempts": attempts, "deadAt": now})
        await finish(store, event_id, event["type"], "dead-letter")
        return True
    await store.delete(keys.event_receipt(event_id))
    return False


async def dead_letters(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    page = await store.query(keys.DEAD_LETTERS, prefix="EVENT#", limit=limit, newest_first=False)
    return page.items


def dead_event(letter: dict[str, Any]) -> dict[str, Any]:
    """The event a dead letter keeps (as JSON text; earlier versions kept the object)."""
    return orjson.loads(letter["eventJson"]) if "eventJson" in letter else letter["event"]

"""Reprocess dead letters (`gateway replay-dead-letters`)."""

from __future__ import annotations

from dataclasses import dataclass

from payments import Event, Payments
from store import Store, keys
from store.records import put_record
from webhooks import receipts
from webhooks.handlers import apply_event


@dataclass(frozen=True, slots=True)
class Replayed:
    event_id: str
    event_type: str
    outcome: str  # the handler's outcome, or "failed: ..." (the dead letter is kept)


async def replay_dead_letters(store: Store, payments: Payments) -> list[Replayed]:
    results = []
    for letter in await receipts.dead_letters(store):
        event = letter.event
        try:
            outcome = await apply_event(store, payments, Event.from_json(event))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            await put_record(store, receipts.failed_again(letter, error))
            results.append(Replayed(event["id"], event["type"], f"failed: {error}"))
            continue
        await receipts.finish(store, event["id"], event["type"], outcome)
        await store.delete(keys.event_failures(event["id"]))
        await store.delete(letter.key)
        results.append(Replayed(event["id"], event["type"], outcome))
    return results

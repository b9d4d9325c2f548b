"""Reprocess dead letters (`gateway replay-dead-letters`)."""

from __future__ import annotations

from dataclasses import dataclass

from payments import Event, Payments
from store import Store, keys
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
        event = receipts.dead_event(letter)
        try:
            outcome = await apply_event(store, payments, Event.from_json(event))
        except Exception as exc:  # noqa: BLE001 - reported per event, the rest go on
            error = f"{type(exc).__name__}: {exc}"
            await store.put({**letter, "error": error[:2000], "attempts": letter["attempts"] + 1})
            results.append(Replayed(event["id"], event["type"], f"failed: {error}"))
            continue
        await receipts.finish(store, event["id"], event["type"], outcome)
        await store.delete(keys.event_failures(event["id"]))
        await store.delete(keys.key_of(letter))
        results.append(Replayed(event["id"], event["type"], outcome))
    return results

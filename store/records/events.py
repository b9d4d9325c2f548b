"""Stripe events as the table holds them:

    EVENT#{id} / RECEIPT      EventReceipt    a delivery's claim (a lease), then done (kept 30 days)
    EVENT#{id} / FAILURES     EventFailures   failed attempts: how many, since when, the last error
    DEADLETTER / EVENT#{id}   DeadLetter      an event that kept failing, kept for replay
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from store import keys

ReceiptStatus = Literal["processing", "done"]


@dataclass(frozen=True, slots=True)
class EventReceipt:
    event_id: str
    event_type: str
    status: ReceiptStatus
    expires_at: int
    claimed_at: int | None = None  # processing
    outcome: str | None = None  # done
    done_at: int | None = None  # done

    @property
    def key(self) -> keys.Key:
        return keys.event_receipt(self.event_id)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "EventReceipt",
                                "eventType": self.event_type, "status": self.status}
        if self.status == "processing":
            item["claimedAt"] = self.claimed_at
        else:
            item.update(outcome=self.outcome, doneAt=self.done_at)
        item[keys.EXPIRES_AT] = self.expires_at
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> EventReceipt:
        return cls(item[keys.PK].removeprefix("EVENT#"), item.get("eventType", ""), item["status"],
                   item.get(keys.EXPIRES_AT, 0), item.get("claimedAt"), item.get("outcome"), item.get("doneAt"))


@dataclass(frozen=True, slots=True)
class EventFailures:
    event_id: str
    attempts: int
    first_at: int
    last_error: str
    last_at: int

    @property
    def key(self) -> keys.Key:
        return keys.event_failures(self.event_id)

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "EventFailures",
                "attempts": self.attempts, "firstAt": self.first_at, "lastError": self.last_error,
                "lastAt": self.last_at}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> EventFailures:
        return cls(item[keys.PK].removeprefix("EVENT#"), item.get("attempts", 0), item.get("firstAt", 0),
                   item.get("lastError", ""), item.get("lastAt", 0))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """The event is kept as its JSON text, so any JSON Stripe sends (floats included) can
    be stored; earlier versions kept the object itself (`event`)."""
    event_id: str
    event_type: str
    event_json: str | None
    error: str
    attempts: int
    dead_at: int
    old_event: Mapping[str, Any] | None = None

    @property
    def key(self) -> keys.Key:
        return keys.dead_letter(self.event_id)

    @property
    def event(self) -> dict[str, Any]:
        """The event it keeps, as Stripe sent it."""
        return orjson.loads(self.event_json) if self.event_json is not None else dict(self.old_event or {})

    def to_item(self) -> dict[str, Any]:
        kept = {"eventJson": self.event_json} if self.event_json is not None else {"event": self.old_event}
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "DeadLetter", "eventId": self.event_id,
                "eventType": self.event_type, **kept, "error": self.error, "attempts": self.attempts,
                "deadAt": self.dead_at}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> DeadLetter:
        return cls(item.get("eventId") or item[keys.SK].removeprefix("EVENT#"), item.get("eventType", ""),
                   item.get("eventJson"), item.get("error", ""), item.get("attempts", 0), item.get("deadAt", 0),
                   item.get("event"))

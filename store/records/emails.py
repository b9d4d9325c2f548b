"""Messages to shoppers, as the table holds them (the outbox):

    EMAIL#{orderId} / {kind}#{ref}                 OutboxMessage   the message and its delivery state
    OUTBOX / EMAIL#{orderId}#{kind}#{ref}          OutboxPointer  present while it waits to be sent

Stored form of a message:

    orderId, kind, ref       its identity (kind: confirmation | shipping | refund; ref: the
                             refund id for a refund notice, else the kind)
    recipient                the order's email when it was recorded
    status                   PENDING | SENT | FAILED (given up: permanent refusal or too many tries)
    createdAt, sentAt        epoch seconds
    attempts, nextAttemptAt  delivery tries so far, and when the next may start
    lastError                the last failure, cut to 500 characters
    leaseHolder, leaseUntil  the sender delivering it now, and until when that claim holds
    version                  optimistic locking: every change is a conditional write
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store import keys
from store.records.facts import Unreadable, shown

PENDING, SENT, FAILED = "PENDING", "SENT", "FAILED"
EMAIL_STATUSES = (PENDING, SENT, FAILED)
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    order_id: str
    kind: str
    ref: str
    recipient: str
    created_at: int
    status: str = PENDING
    attempts: int = 0
    next_attempt_at: int = 0
    last_error: str | None = None
    lease_holder: str | None = None
    lease_until: int = 0
    sent_at: int | None = None
    updated_at: int = 0
    version: int = 1

    @property
    def key(self) -> keys.Key:
        return keys.email(self.order_id, self.kind, self.ref)

    @property
    def pointer(self) -> OutboxPointer:
        return OutboxPointer(self.order_id, self.kind, self.ref, self.created_at)

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "OutboxMessage",
                "orderId": self.order_id, "kind": self.kind, "ref": self.ref, "recipient": self.recipient,
                "createdAt": self.created_at, "status": self.status, "attempts": self.attempts,
                "nextAttemptAt": self.next_attempt_at,
                "lastError": self.last_error[:MAX_ERROR] if self.last_error else None,
                "leaseHolder": self.lease_holder, "leaseUntil": self.lease_until, "sentAt": self.sent_at,
                "updatedAt": self.updated_at, keys.VERSION: self.version}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> OutboxMessage:
        raw = [item.get(name) for name in ("orderId", "kind", "ref", "recipient")]
        texts = [t for t in raw if isinstance(t, str) and t]
        if len(texts) != len(raw):
            raise Unreadable(f"email identity is {shown(raw)}")
        status = item.get("status")
        if status not in EMAIL_STATUSES:
            raise Unreadable(f"email status is {shown(status)}")
        numbers = [item.get(name) or 0 for name in ("createdAt", "attempts", "nextAttemptAt", "leaseUntil",
                                                     "updatedAt", keys.VERSION)]
        if not all(type(n) is int and n >= 0 for n in numbers):
            raise Unreadable(f"email counters are {shown(numbers)}")
        created, attempts, next_attempt, lease_until, updated, version = numbers
        error, holder, sent = item.get("lastError"), item.get("leaseHolder"), item.get("sentAt")
        return cls(texts[0], texts[1], texts[2], texts[3], created, status, attempts, next_attempt,
                   error if isinstance(error, str) else None, holder if isinstance(holder, str) else None,
                   lease_until, sent if type(sent) is int else None, updated, version)


@dataclass(frozen=True, slots=True)
class OutboxPointer:
    """A message waiting to be sent: the sender lists these, and reads the message itself."""
    order_id: str
    kind: str
    ref: str
    created_at: int

    @property
    def key(self) -> keys.Key:
        return keys.outbox_pointer(self.order_id, self.kind, self.ref)

    @property
    def message_key(self) -> keys.Key:
        return keys.email(self.order_id, self.kind, self.ref)

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "OutboxPointer",
                "orderId": self.order_id, "kind": self.kind, "ref": self.ref, "createdAt": self.created_at}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> OutboxPointer:
        raw = [item.get(name) for name in ("orderId", "kind", "ref")]
        texts = [t for t in raw if isinstance(t, str) and t]
        created = item.get("createdAt")
        if len(texts) != len(raw) or type(created) is not int:
            raise Unreadable(f"outbox pointer is {shown(raw)}")
        return cls(texts[0], texts[1], texts[2], created)

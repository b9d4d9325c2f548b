"""REFUND#{orderId} / REQUEST#{digest}: a refund the shop asked for (refundOrder), kept
for a while so the same request again (a double click, a retry) is the same Stripe refund:
it holds the Stripe idempotency key the first request chose, and what it asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store import keys
from store.records.facts import Unreadable

ENTITY = "RefundRequest"


@dataclass(frozen=True, slots=True)
class RefundRequest:
    order_id: str
    digest: str
    stripe_key: str  # the Idempotency-Key of the refund's POST /v1/refunds
    amount: int
    reason: str | None
    expires_at: int

    @property
    def key(self) -> keys.Key:
        return keys.refund_request(self.order_id, self.digest)

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: ENTITY, "orderId": self.order_id,
                "stripeKey": self.stripe_key, "amount": self.amount, "reason": self.reason,
                keys.EXPIRES_AT: self.expires_at}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> RefundRequest:
        order_id, stripe_key, amount, reason, expires = map(
            item.get, ("orderId", "stripeKey", "amount", "reason", keys.EXPIRES_AT))
        if not (type(order_id) is str and type(stripe_key) is str and type(amount) is int
                and (reason is None or type(reason) is str) and type(expires) is int):
            raise Unreadable("not a refund request")
        return cls(order_id, str(item[keys.SK]).removeprefix("REQUEST#"), stripe_key, amount, reason, expires)

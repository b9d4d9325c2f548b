"""Orders in the shape the replaced Lambdas wrote (report §6 step 1), read as ours:

    theirs                                   ours
    amount                                   total and subtotal (no discount, shipping, tax)
    status completed|complete|paid|succeeded PAID        (paid)
           pending|processing|open           PROCESSING
           failed|payment_failed             PAYMENT_FAILED
           refunded                          REFUNDED    (paid, refunded = amount)
    customerEmail                            email
    currency usd                             USD
    createdAt / updatedAt ISO 8601           epoch seconds
    items[].unitPrice × quantity             items[].total
    (no userId)                              the user of the PK (USER#{userId})

Such orders have no ORDER#{id} item: they are listed, never written back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from store import keys
from store.records.facts import Facts, Unreadable
from store.records.orders import Order, amount, currency, epoch, lines, text

LEGACY_STATUS = {"completed": "PAID", "complete": "PAID", "paid": "PAID", "succeeded": "PAID",
                 "pending": "PROCESSING", "processing": "PROCESSING", "open": "PROCESSING",
                 "failed": "PAYMENT_FAILED", "payment_failed": "PAYMENT_FAILED", "refunded": "REFUNDED"}
_THEIRS = frozenset({keys.PK, keys.SK, "orderId", "orderNumber", "status", "amount", "currency", "customerEmail",
                     "items", "createdAt", "updatedAt", "userId", "stripeSessionId", "stripePaymentIntentId"})


def order_from_lambda(item: Mapping[str, Any]) -> Order:
    order_id = text(item, "orderId")
    status = LEGACY_STATUS.get(str(item.get("status", "")).lower())
    if status is None:
        raise Unreadable(f"status {str(item.get('status'))[:40]!r} of the replaced system is not known")
    paid = amount(item, "amount")
    money = currency(item)
    created = epoch(item, "createdAt")
    updated = epoch(item, "updatedAt") if item.get("updatedAt") is not None else created
    refunded = paid if status == "REFUNDED" else 0
    email, number, user = item.get("customerEmail"), item.get("orderNumber"), item.get("userId")
    facts = Facts(paid=status in ("PAID", "REFUNDED"), payment_failed=status == "PAYMENT_FAILED",
                  legacy_refunded=refunded)
    return Order(
        order_id=order_id, order_number=number if isinstance(number, str) and number else "BC-" + order_id[-8:].upper(),
        user_id=_text(user) if "userId" in item else str(item.get(keys.PK, "")).removeprefix("USER#"),
        guest=False, guest_email=None, status=status, facts=facts, items=lines(item.get("items")),
        currency=money, subtotal=paid, discount=0, shipping=0, tax=0, total=paid, refunded=refunded,
        charged_back=0, email=email if isinstance(email, str) else None, shipping_address=None,
        stripe_session_id=_text(item.get("stripeSessionId")),
        stripe_payment_intent_id=_text(item.get("stripePaymentIntentId")), quote_signature=None,
        created_at=created, updated_at=updated, legacy=True,
        extra={name: value for name, value in item.items() if name not in _THEIRS},
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


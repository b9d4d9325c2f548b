"""Order items as they are found in the table, read without trusting them.

The table is shared with the system we replace, and people edit it by hand, so an order
item may be in any shape. `readable` gives the order in today's shape, or None for one it
cannot read (logged with its key and why, and counted), so that one bad item never takes a
page, a dashboard or a reconciliation run down with it.

Shapes read:
- today's (`total`, `facts`, …): checked field by field. A status that is not one of ours
  (set by hand, such as SHIPPED) is shown as the status its facts give, and kept in the
  item; a dispute summary holding a Stripe status (`needs_response`) is read through the
  one dispute table in commerce/facts.py.
- the replaced Lambdas' (report §6 step 1), mapped:

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
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Mapping

from commerce.facts import DISPUTE_STATE, LEGACY_DISPUTE_RANK, Facts, facts_item, facts_of, status_of
from telemetry.metrics import UNREADABLE_ORDERS
from store import keys

log = logging.getLogger("gateway.orders")

STATUSES = frozenset({"PROCESSING", "PAID", "PAYMENT_FAILED", "PARTIALLY_REFUNDED", "REFUNDED", "DISPUTED",
                      "NEEDS_REVIEW"})
LEGACY_STATUS = {"completed": "PAID", "complete": "PAID", "paid": "PAID", "succeeded": "PAID",
                 "pending": "PROCESSING", "processing": "PROCESSING", "open": "PROCESSING",
                 "failed": "PAYMENT_FAILED", "payment_failed": "PAYMENT_FAILED", "refunded": "REFUNDED"}
MONEY_FIELDS = ("subtotal", "discount", "shipping", "tax", "total", "refunded")


class Unreadable(ValueError):
    pass


def readable(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """The order in today's shape, or None (logged and counted) when it cannot be read."""
    try:
        return read_order(item)
    except Unreadable as why:
        unreadable(item, str(why))
        return None


def unreadable(item: Mapping[str, Any], why: str) -> None:
    UNREADABLE_ORDERS.inc()
    log.warning("unreadable order item %s / %s skipped: %s", str(item.get(keys.PK))[:200],
                str(item.get(keys.SK))[:200], why)


def read_order(item: Mapping[str, Any]) -> dict[str, Any]:
    """As `readable`, raising Unreadable with the reason."""
    if not isinstance(item, Mapping):
        raise Unreadable("not an item")
    if "total" not in item and "amount" in item:
        return _from_lambda(item)
    order = dict(item)
    for name in ("orderId", "orderNumber"):
        _text(order, name)
    _currency(order)
    for name in MONEY_FIELDS:
        _amount(order, name)
    if "chargedBack" in order:
        _amount(order, "chargedBack")
    order["items"] = _lines(order.get("items"))
    for name in ("createdAt", "updatedAt"):
        _epoch(order, name)
    order["facts"] = _facts(order.get("facts"))
    facts = facts_of(order)
    status = order.get("status")
    if status not in STATUSES:
        # set by hand, or by another system: what the facts say, and the rest kept
        order["status"] = status_of(facts, order["total"], review=bool(order.get("review")))
        order["statusSetByHand"] = str(status)[:60]
    return order


def _from_lambda(item: Mapping[str, Any]) -> dict[str, Any]:
    order = dict(item)  # the checks below normalise it in place (currency, dates)
    order_id = _text(order, "orderId")
    status = LEGACY_STATUS.get(str(order.get("status", "")).lower())
    if status is None:
        raise Unreadable(f"status {str(order.get('status'))[:40]!r} of the replaced system is not known")
    amount = _amount(order, "amount")
    _currency(order)
    created = _epoch(order, "createdAt")
    updated = _epoch(order, "updatedAt") if order.get("updatedAt") is not None else created
    refunded = amount if status == "REFUNDED" else 0
    email = order.pop("customerEmail", None)
    del order["amount"]
    order.update(
        orderNumber=order.get("orderNumber") or "BC-" + order_id[-8:].upper(), status=status,
        items=_lines(order.get("items")), subtotal=amount, discount=0, shipping=0, tax=0, total=amount,
        refunded=refunded, chargedBack=0, email=email if isinstance(email, str) else None,
        shippingAddress=None, updatedAt=updated, guest=False, legacy=True,
        facts=facts_item(Facts(paid=status in ("PAID", "REFUNDED"), payment_failed=status == "PAYMENT_FAILED",
                               legacy_refunded=refunded)),
    )
    order.setdefault("userId", str(item.get(keys.PK, "")).removeprefix("USER#"))
    return order


def _text(order: dict[str, Any], name: str) -> str:
    value = order.get(name)
    if not isinstance(value, str) or not value or len(value) > 255:
        raise Unreadable(f"{name} is {_shown(value)}")
    return value


def _currency(order: dict[str, Any]) -> str:
    value = order.get("currency")
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise Unreadable(f"currency is {_shown(value)}")
    order["currency"] = value.upper()
    return order["currency"]


def _amount(order: dict[str, Any], name: str) -> int:
    value = order.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**12:
        raise Unreadable(f"{name} is {_shown(value)}, not an amount in minor units")
    return value


def _epoch(order: dict[str, Any], name: str) -> int:
    value = order.get(name)
    if isinstance(value, str):
        try:
            value = int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            raise Unreadable(f"{name} is {_shown(value)}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**11:
        raise Unreadable(f"{name} is {_shown(value)}")
    order[name] = value
    return value


def _lines(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) > 1000:
        raise Unreadable("items is not a list of lines")
    lines = []
    for n, line in enumerate(raw):
        if not isinstance(line, Mapping):
            raise Unreadable(f"items[{n}] is not a line")
        quantity, unit = line.get("quantity"), line.get("unitPrice")
        for name, value in (("quantity", quantity), ("unitPrice", unit)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise Unreadable(f"items[{n}].{name} is {_shown(value)}")
        total = line.get("total", unit * quantity)
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise Unreadable(f"items[{n}].total is {_shown(total)}")
        sku, name = line.get("sku"), line.get("name")
        lines.append({"sku": sku if isinstance(sku, str) else None,
                      "name": name if isinstance(name, str) else None,
                      "quantity": quantity, "unitPrice": unit, "total": total})
    return lines


def _facts(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise Unreadable("facts is not a map")
    facts = dict(raw)
    for name in ("paid", "paymentFailed"):
        if name in facts and not isinstance(facts[name], bool):
            raise Unreadable(f"facts.{name} is {_shown(facts[name])}")
    if "refunded" in facts and (isinstance(facts["refunded"], bool) or not isinstance(facts["refunded"], int)):
        raise Unreadable(f"facts.refunded is {_shown(facts['refunded'])}")
    dispute = facts.get("dispute", "none")
    if dispute not in LEGACY_DISPUTE_RANK:
        state = DISPUTE_STATE.get(dispute)
        if state is None:
            raise Unreadable(f"facts.dispute is {_shown(dispute)}")
        facts["dispute"] = "open" if state == "inquiry" else state
    for name in ("refunds", "disputes"):
        movements = facts.get(name)
        if movements is not None and not (isinstance(movements, Mapping) and all(
                isinstance(m, Mapping) and isinstance(m.get("amount"), int) and isinstance(m.get("status"), str)
                for m in movements.values())):
            raise Unreadable(f"facts.{name} is not a map of amounts and statuses")
    return facts


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"

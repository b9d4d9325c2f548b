"""Orders as the table holds them: ORDER#{id} / METADATA (the order, versioned), its copy
in the owner's list (USER#{userId} or GUEST#{email} / ORDER#{created}#{id}), and the
payment pointer (PAYMENT#{pi} / METADATA).

The table is shared with the system we replace and edited by hand, so `Order.from_item`
reads without trust: it checks each field it uses and raises Unreadable with the reason;
`readable` logs and counts such an item and gives None, so one bad item never takes a
page, a dashboard or a reconciliation run down. Attributes it does not know are kept
(`extra`) and written back. A status that is not one of ours (set by hand, such as
SHIPPED) is kept as it is: commerce shows what the facts say (`commerce.orders.shown`).
Fulfilment (`fulfillment`, store/records/fulfillment.py) is kept apart from the payment
status; an order without it reads as UNFULFILLED. Its timeline (`events`,
store/records/timeline.py) is a map merged by union; an order without it reads as none.
Orders in the replaced Lambdas' shape are read by `store/records/lambda_orders.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store import keys
from store.records.facts import Facts, Unreadable, shown
from store.records.fulfillment import Fulfillment
from store.records.order_index import INDEX_ATTRIBUTES, index_attributes
from store.records.timeline import OrderEvent, events_from_item, events_to_item
from telemetry.metrics import UNREADABLE_ORDERS

log = logging.getLogger("gateway.orders")

STATUSES = frozenset({"PROCESSING", "PAID", "PAYMENT_FAILED", "PARTIALLY_REFUNDED", "REFUNDED", "DISPUTED",
                      "NEEDS_REVIEW", "OUT_OF_STOCK"})
ENTITY = "Order"
_OPTIONAL_TEXT = ("userId", "guestEmail", "email", "stripeSessionId", "stripePaymentIntentId", "quoteSignature",
                  keys.CUSTOMER_ID, "reviewReason")
_LINE = ("sku", "name", "quantity", "unitPrice", "total")
_ADDRESS = ("name", "line1", "line2", "city", "state", "postalCode", "country")
_KNOWN = frozenset({
    keys.PK, keys.SK, keys.ENTITY, keys.VERSION, keys.CUSTOMER_ID, "orderId", "orderNumber", "userId", "guest",
    "guestEmail", "status", "facts", "items", "currency", "subtotal", "discount", "shipping", "tax", "total",
    "refunded", "chargedBack", "email", "shippingAddress", "stripeSessionId", "stripePaymentIntentId",
    "quoteSignature", "createdAt", "updatedAt", "review", "reviewReason", "fulfillment", "events", "stock",
    *INDEX_ATTRIBUTES})


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str | None
    name: str | None
    quantity: int
    unit_price: int
    total: int

    def to_item(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "quantity": self.quantity, "unitPrice": self.unit_price,
                "total": self.total}


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    """Where an order ships, as Stripe collected it."""
    name: str | None
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None

    def to_item(self) -> dict[str, Any]:
        return {"name": self.name, "line1": self.line1, "line2": self.line2, "city": self.city,
                "state": self.state, "postalCode": self.postal_code, "country": self.country}

    @classmethod
    def from_item(cls, raw: Any) -> ShippingAddress | None:
        if not isinstance(raw, dict):
            return None
        return cls(*[v if type(v) is str else None for v in map(raw.get, _ADDRESS)])


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    order_number: str
    user_id: str | None  # None for a guest's order (earlier versions: the guest's email)
    guest: bool
    guest_email: str | None  # the key form of a guest's email (earlier versions: none)
    status: str | None  # as stored: one of STATUSES, or one set by hand
    facts: Facts
    items: tuple[OrderLine, ...]
    currency: str  # upper-case
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    refunded: int
    charged_back: int
    email: str | None
    shipping_address: ShippingAddress | None
    stripe_session_id: str | None
    stripe_payment_intent_id: str | None
    quote_signature: str | None
    created_at: int
    updated_at: int
    version: int = 0  # 0: written before versioning
    customer_id: str | None = None  # stripeCustomerId: a key of the customer index when present
    review: bool = False
    review_reason: str | None = None
    legacy: bool = False  # read from the replaced Lambdas' shape
    extra: Mapping[str, Any] = field(default_factory=dict)  # attributes not ours, kept
    fulfillment: Fulfillment = field(default_factory=Fulfillment)  # apart from the payment status
    events: Mapping[str, OrderEvent] = field(default_factory=dict)  # the timeline, by event identity
    stock: str | None = None  # its checkout's hold: pending | sold | short (OUT_OF_STOCK); None: held nothing

    @property
    def key(self) -> keys.Key:
        return keys.order_pointer(self.order_id)

    @property
    def listing_key(self) -> keys.Key:
        """USER#{userId} for a signed-in shopper's order, GUEST#{email} for a guest's."""
        if self.guest:
            return keys.guest_order(self.filed_email, self.created_at, self.order_id)
        return keys.order(self.user_id or "", self.created_at, self.order_id)

    @property
    def filed_email(self) -> str:
        """The email a guest order is filed under (earlier versions kept it as the userId)."""
        return self.guest_email or self.user_id or ""

    @property
    def set_by_hand(self) -> bool:
        return self.status not in STATUSES

    def to_item(self, key: keys.Key | None = None) -> dict[str, Any]:
        """The item at `key` (the order's own, or its listing copy's)."""
        key = key or self.key
        item: dict[str, Any] = {
            **self.extra, keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: ENTITY,
            "orderId": self.order_id, "orderNumber": self.order_number, "userId": self.user_id,
            "guest": self.guest, "status": self.status, "facts": self.facts.to_item(),
            "items": [line.to_item() for line in self.items], "currency": self.currency,
            "subtotal": self.subtotal, "discount": self.discount, "shipping": self.shipping, "tax": self.tax,
            "total": self.total, "refunded": self.refunded, "chargedBack": self.charged_back,
            "email": self.email,
            "shippingAddress": self.shipping_address.to_item() if self.shipping_address else None,
            "stripeSessionId": self.stripe_session_id, "stripePaymentIntentId": self.stripe_payment_intent_id,
            "quoteSignature": self.quote_signature, "createdAt": self.created_at, "updatedAt": self.updated_at,
            keys.VERSION: self.version,
        }
        if self.guest_email:
            item["guestEmail"] = self.guest_email
        if self.customer_id:  # a key of the stripeCustomerId-index: a string or absent
            item[keys.CUSTOMER_ID] = self.customer_id
        if self.review:
            item.update(review=True, reviewReason=self.review_reason)
        if not self.fulfillment.default:  # absent until something is done: older items read the same
            item["fulfillment"] = self.fulfillment.to_item()
        if self.events:
            item["events"] = events_to_item(self.events)
        if self.stock is not None:
            item["stock"] = self.stock
        if key == self.key:  # listed in the order indexes once: by its own item, not the copy
            item.update(index_attributes(self, STATUSES))
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Order:
        """The order an item holds, checked; Unreadable with the reason otherwise."""
        if not isinstance(item, dict):
            raise Unreadable("not an item")
        if "total" not in item and "amount" in item:
            from store.records.lambda_orders import order_from_lambda
            return order_from_lambda(item)
        # The dashboard reads 20 of these per request: C-level passes (map, set difference)
        # and positional arguments keep it near the cost of copying the item.
        get = item.get
        user, guest_email, email, session, intent, quote, customer, reason = [
            v if type(v) is str else None for v in map(get, _OPTIONAL_TEXT)]
        unknown = item.keys() - _KNOWN
        return cls(
            text(item, "orderId"), text(item, "orderNumber"), user, bool(get("guest")), guest_email or None,
            get("status"), Facts.from_item(get("facts")), lines(get("items")), currency(item),
            amount(item, "subtotal"), amount(item, "discount"), amount(item, "shipping"), amount(item, "tax"),
            amount(item, "total"), amount(item, "refunded"),
            amount(item, "chargedBack") if "chargedBack" in item else 0, email,
            ShippingAddress.from_item(get("shippingAddress")), session, intent, quote,
            epoch(item, "createdAt"), epoch(item, "updatedAt"), _version(item), customer or None,
            bool(get("review")), reason, False, {name: item[name] for name in unknown} if unknown else {},
            Fulfillment.from_item(get("fulfillment")), events_from_item(get("events")),
            _text_or_none(get("stock")),
        )


def readable(item: Mapping[str, Any]) -> Order | None:
    """The order, or None (logged and counted) when it cannot be read."""
    try:
        return Order.from_item(item)
    except Unreadable as why:
        unreadable(item, str(why))
        return None


def unreadable(item: Mapping[str, Any], why: str) -> None:
    UNREADABLE_ORDERS.inc()
    log.warning("unreadable order item %s / %s skipped: %s", str(item.get(keys.PK))[:200],
                str(item.get(keys.SK))[:200], why)


@dataclass(frozen=True, slots=True)
class PaymentPointer:
    """PAYMENT#{pi} / METADATA: the order a payment intent paid for."""
    payment_intent_id: str
    order_id: str

    @property
    def key(self) -> keys.Key:
        return keys.payment_pointer(self.payment_intent_id)

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "PaymentPointer",
                "orderId": self.order_id}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> PaymentPointer:
        return cls(item[keys.PK].removeprefix("PAYMENT#"), item["orderId"])


# ---- field readers, shared with the Lambda shape ----------------------------------

def text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value or len(value) > 255:
        raise Unreadable(f"{name} is {shown(value)}")
    return value


def currency(item: Mapping[str, Any]) -> str:
    value = item.get("currency")
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise Unreadable(f"currency is {shown(value)}")
    return value.upper()


def amount(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**12:
        raise Unreadable(f"{name} is {shown(value)}, not an amount in minor units")
    return value


def epoch(item: Mapping[str, Any], name: str) -> int:
    """Epoch seconds; ISO 8601 text (the replaced system's) is converted."""
    value = item.get(name)
    if isinstance(value, str):
        try:
            value = int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            raise Unreadable(f"{name} is {shown(value)}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**11:
        raise Unreadable(f"{name} is {shown(value)}")
    return value


def lines(raw: Any) -> tuple[OrderLine, ...]:
    if not isinstance(raw, list) or len(raw) > 1000:
        raise Unreadable("items is not a list of lines")
    read = []
    for n, line in enumerate(raw):
        if not isinstance(line, dict):
            raise Unreadable(f"items[{n}] is not a line")
        sku, name, quantity, unit, total = map(line.get, _LINE)
        if type(quantity) is not int or quantity < 0:  # a bool is not a count either
            raise Unreadable(f"items[{n}].quantity is {shown(quantity)}")
        if type(unit) is not int or unit < 0:
            raise Unreadable(f"items[{n}].unitPrice is {shown(unit)}")
        if total is None and "total" not in line:
            total = unit * quantity
        if type(total) is not int or total < 0:
            raise Unreadable(f"items[{n}].total is {shown(total)}")
        read.append(OrderLine(sku if type(sku) is str else None, name if type(name) is str else None,
                              quantity, unit, total))
    return tuple(read)


def _text_or_none(value: Any) -> str | None:
    return value if type(value) is str else None


def _version(item: Mapping[str, Any]) -> int:
    value = item.get(keys.VERSION, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

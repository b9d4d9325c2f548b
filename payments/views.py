"""Typed, frozen views of Stripe's JSON: what the gateway reads of each object, and nothing
of the SDK. Built straight from the JSON (`from_json`), so a hot path never pays for the
SDK's object building.

An id is a string whether Stripe sent the id or the expanded object. A value of the wrong
type (Stripe, an emulator or a test sending garbage) reads as None rather than failing
here: what a value must be to count is a rule of commerce (`commerce/charges.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

# A Checkout Session id (it goes into a URL path: nothing else may)
SESSION_ID = re.compile(r"^cs_(test|live)_[A-Za-z0-9]{1,255}$")
SOURCE = "commerce-gateway"  # metadata.source on everything the gateway creates in Stripe

Json = Mapping[str, Any]
T = TypeVar("T")


def id_of(value: Any) -> str | None:
    """The id of a field Stripe sends as an id or, expanded, as the object."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def _expanded(value: Any) -> Json | None:
    return value if isinstance(value, Mapping) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _metadata(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _complete_list(value: Any) -> list[Json] | None:
    """The items of an expanded list, or None when it was not expanded or has more pages."""
    if not isinstance(value, Mapping) or value.get("has_more") or not isinstance(value.get("data"), list):
        return None
    return [item for item in value["data"] if isinstance(item, Mapping)]


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str | None
    active: bool
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Json) -> Product:
        return cls(data["id"], _str(data.get("name")), data.get("active") is True, _metadata(data.get("metadata")))


@dataclass(frozen=True, slots=True)
class Price:
    id: str
    unit_amount: int | None
    currency: str  # lower-case, as Stripe has it
    active: bool
    product_id: str | None
    product: Product | None = None  # when expanded
    lookup_key: str | None = None
    tax_behavior: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Price:
        product = _expanded(data.get("product"))
        return cls(data["id"], _int(data.get("unit_amount")), data.get("currency") or "",
                   data.get("active") is True, id_of(data.get("product")),
                   Product.from_json(product) if product is not None else None,
                   _str(data.get("lookup_key")), _str(data.get("tax_behavior")))


@dataclass(frozen=True, slots=True)
class LineItem:
    description: str | None
    quantity: int
    amount_subtotal: int
    price: Price

    @classmethod
    def from_json(cls, data: Json) -> LineItem:
        return cls(_str(data.get("description")), data["quantity"], data["amount_subtotal"],
                   Price.from_json(data["price"]))


@dataclass(frozen=True, slots=True)
class Refund:
    id: str | None
    amount: int | None
    status: str | None
    charge: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Refund:
        return cls(_str(data.get("id")), _int(data.get("amount")), _str(data.get("status")),
                   id_of(data.get("charge")))


@dataclass(frozen=True, slots=True)
class Dispute:
    id: str | None
    amount: int | None
    status: str | None
    charge: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Dispute:
        return cls(_str(data.get("id")), _int(data.get("amount")), _str(data.get("status")),
                   id_of(data.get("charge")))


@dataclass(frozen=True, slots=True)
class Charge:
    id: str | None
    paid: bool
    disputed: bool = False
    payment_intent: str | None = None
    amount_refunded: int | None = None
    refunds: tuple[Refund, ...] | None = None  # None: not expanded, or only the first page

    @classmethod
    def from_json(cls, data: Json) -> Charge:
        refunds = _complete_list(data.get("refunds"))
        return cls(_str(data.get("id")), data.get("paid") is True, data.get("disputed") is True,
                   id_of(data.get("payment_intent")), _int(data.get("amount_refunded")),
                   tuple(map(Refund.from_json, refunds)) if refunds is not None else None)


@dataclass(frozen=True, slots=True)
class PaymentIntent:
    id: str
    status: str | None
    latest_charge: Charge | None = None  # when expanded

    @classmethod
    def from_json(cls, data: Json) -> PaymentIntent:
        charge = _expanded(data.get("latest_charge"))
        return cls(data["id"], _str(data.get("status")), Charge.from_json(charge) if charge is not None else None)


@dataclass(frozen=True, slots=True)
class ShippingDetails:
    name: str | None
    address: Mapping[str, str | None]  # Stripe's names: line1, line2, city, state, postal_code, country

    @classmethod
    def from_json(cls, data: Json) -> ShippingDetails:
        address = _expanded(data.get("address")) or {}
        return cls(_str(data.get("name")), {k: _str(v) for k, v in address.items()})


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    currency: str | None  # lower-case, as Stripe has it
    amount_total: int | None
    amount_subtotal: int | None
    created: int | None = None
    expires_at: int | None = None
    url: str | None = None
    customer: str | None = None
    customer_email: str | None = None  # given when the session was made
    details_email: str | None = None  # customer_details.email: entered at checkout
    payment_intent: str | None = None
    intent: PaymentIntent | None = None  # payment_intent, when expanded
    metadata: Mapping[str, str] = field(default_factory=dict)
    line_items: tuple[LineItem, ...] | None = None  # None: not expanded, or more than one page
    amount_discount: int = 0
    amount_shipping: int = 0
    amount_tax: int = 0
    shipping: ShippingDetails | None = None  # collected_information.shipping_details

    @property
    def email(self) -> str | None:
        return self.details_email or self.customer_email

    @classmethod
    def from_json(cls, data: Json) -> CheckoutSession:
        intent = _expanded(data.get("payment_intent"))
        details = _expanded(data.get("customer_details")) or {}
        totals = _expanded(data.get("total_details")) or {}
        shipping = (_expanded(data.get("collected_information")) or {}).get("shipping_details")
        lines = _complete_list(data.get("line_items"))
        return cls(
            id=data["id"], status=_str(data.get("status")) or "", payment_status=data.get("payment_status") or "unpaid",
            currency=_str(data.get("currency")), amount_total=_int(data.get("amount_total")),
            amount_subtotal=_int(data.get("amount_subtotal")), created=_int(data.get("created")),
            expires_at=_int(data.get("expires_at")), url=_str(data.get("url")),
            customer=id_of(data.get("customer")), customer_email=_str(data.get("customer_email")),
            details_email=_str(details.get("email")), payment_intent=id_of(data.get("payment_intent")),
            intent=PaymentIntent.from_json(intent) if intent is not None else None,
            metadata=_metadata(data.get("metadata")),
            line_items=tuple(map(LineItem.from_json, lines)) if lines is not None else None,
            amount_discount=_int(totals.get("amount_discount")) or 0,
            amount_shipping=_int(totals.get("amount_shipping")) or 0,
            amount_tax=_int(totals.get("amount_tax")) or 0,
            shipping=ShippingDetails.from_json(shipping) if isinstance(shipping, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """A Stripe event: what it is about, and its JSON as received (kept by receipts and
    dead letters)."""
    id: str
    type: str
    object_id: str | None  # data.object.id
    charge: str | None  # data.object.charge (refunds and disputes name theirs)
    json: Json = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: Json) -> Event:
        obj = (_expanded(data.get("data")) or {}).get("object")
        obj = obj if isinstance(obj, Mapping) else {}
        return cls(data["id"], data["type"], _str(obj.get("id")), id_of(obj.get("charge")), data)


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str | None
    status: str | None
    enabled_events: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Json) -> WebhookEndpoint:
        events = data.get("enabled_events") or []
        return cls(data["id"], _str(data.get("url")), _str(data.get("status")),
                   tuple(e for e in events if isinstance(e, str)))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a Stripe list."""
    items: tuple[T, ...]
    has_more: bool

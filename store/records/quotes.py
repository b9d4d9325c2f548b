"""Quotes and their checkouts, as the table holds them:

    QUOTE#{sig} / CACHE           QuoteRecord     the priced cart, signed over `content`
    QUOTE#{sig} / CLAIM           QuoteClaim      who may check the quote out
    QUOTE#{sig} / SESSION#{id}    QuoteSession    one Stripe session made for it (by generation)
    SESSION#{id} / METADATA       CheckoutRecord  the proof the gateway made the session: owner, charge

Records of the replaced system (QUOTE#/SESSION# with stripeSessionId, status, checkoutUrl;
SESSION# with quoteSignature, stripeSessionId) read with what they lack left empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from store import keys

QUOTE_FORMAT = 1  # `v` of the signed content
_SIGNED = ("v", "currency", "items", "pricingSummary", "createdAt", "validUntil", "nonce")


@dataclass(frozen=True, slots=True)
class QuoteLine:
    sku: str
    name: str
    quantity: int
    unit_price: int
    list_unit_price: int
    total: int
    discount: int

    def to_item(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "quantity": self.quantity, "unitPrice": self.unit_price,
                "listUnitPrice": self.list_unit_price, "total": self.total, "discount": self.discount}


@dataclass(frozen=True, slots=True)
class QuoteRecord:
    """QUOTE#{signature} / CACHE. `content` is the canonical JSON the signature covers:
    as stored when read (so any change to the stored content shows), as built when made."""
    signature: str
    currency: str
    lines: tuple[QuoteLine, ...]
    subtotal: int
    discount: int
    total: int
    created_at: int
    valid_until: int
    nonce: str
    expires_at: int | None
    content: bytes

    @classmethod
    def unsigned(cls, currency: str, lines: tuple[QuoteLine, ...], subtotal: int, discount: int, total: int, *,
                 created_at: int, valid_until: int, nonce: str, expires_at: int) -> QuoteRecord:
        body = {"v": QUOTE_FORMAT, "currency": currency, "items": [line.to_item() for line in lines],
                "pricingSummary": {"subtotal": subtotal, "discount": discount, "total": total, "currency": currency},
                "createdAt": created_at, "validUntil": valid_until, "nonce": nonce}
        return cls("", currency, lines, subtotal, discount, total, created_at, valid_until, nonce, expires_at,
                   _canonical(body))

    @property
    def key(self) -> keys.Key:
        return keys.quote(self.signature)

    def to_item(self) -> dict[str, Any]:
        item = {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "Quote", "signature": self.signature,
                **orjson.loads(self.content)}
        if self.expires_at is not None:
            item[keys.EXPIRES_AT] = self.expires_at
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> QuoteRecord:
        """KeyError, TypeError or ValueError for an item that is not a whole quote."""
        summary = item["pricingSummary"]
        lines = tuple(QuoteLine(i["sku"], i["name"], i["quantity"], i["unitPrice"], i["listUnitPrice"],
                                i["total"], i["discount"]) for i in item["items"])
        return cls(item["signature"], item["currency"], lines, summary["subtotal"], summary["discount"],
                   summary["total"], item["createdAt"], item["validUntil"], item["nonce"],
                   item.get(keys.EXPIRES_AT), _canonical({name: item[name] for name in _SIGNED}))


def _canonical(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class QuoteClaim:
    """QUOTE#{signature} / CLAIM: the owner of the quote's first checkout."""
    signature: str
    owner: str  # user:{id} or guest:{email key}
    expires_at: int | None = None

    @property
    def key(self) -> keys.Key:
        return keys.quote_claim(self.signature)

    def to_item(self) -> dict[str, Any]:
        return {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "QuoteClaim", "owner": self.owner,
                keys.EXPIRES_AT: self.expires_at}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> QuoteClaim:
        return cls(item[keys.PK].removeprefix("QUOTE#"), item["owner"], item.get(keys.EXPIRES_AT))


@dataclass(frozen=True, slots=True)
class QuoteSession:
    """QUOTE#{signature} / SESSION#{id}: a Stripe session made for the quote."""
    signature: str
    session_id: str
    status: str | None
    checkout_url: str | None
    generation: int  # 0, then one more for each session made after one expired or failed
    session_expires_at: int | None
    created_at: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> keys.Key:
        return keys.quote_session(self.signature, self.session_id)

    def to_item(self) -> dict[str, Any]:
        return {**self.extra, keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "CheckoutSession",
                "stripeSessionId": self.session_id, "status": self.status, "checkoutUrl": self.checkout_url,
                "generation": self.generation, "sessionExpiresAt": self.session_expires_at,
                "createdAt": self.created_at}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> QuoteSession:
        known = {keys.PK, keys.SK, keys.ENTITY, "stripeSessionId", "status", "checkoutUrl", "generation",
                 "sessionExpiresAt", "createdAt"}
        return cls(item[keys.PK].removeprefix("QUOTE#"),
                   item.get("stripeSessionId") or item[keys.SK].removeprefix(keys.SESSION_PREFIX),
                   item.get("status"), item.get("checkoutUrl"), item.get("generation", 0),
                   item.get("sessionExpiresAt"), item.get("createdAt"),
                   {name: value for name, value in item.items() if name not in known})


@dataclass(frozen=True, slots=True)
class ExpectedCharge:
    """What a session made from a quote must charge, and the bundle saving its prices hold."""
    currency: str  # upper-case
    subtotal: int
    lines: tuple[tuple[int, int], ...]  # (unit amount, quantity)
    saving: int = 0

    def to_item(self) -> dict[str, Any]:
        return {"currency": self.currency, "subtotal": self.subtotal,
                "lines": [[unit, quantity] for unit, quantity in self.lines], "saving": self.saving}

    @classmethod
    def from_item(cls, raw: Mapping[str, Any]) -> ExpectedCharge:
        return cls(raw["currency"], raw["subtotal"], tuple((unit, quantity) for unit, quantity in raw["lines"]),
                   raw.get("saving", 0))


@dataclass(frozen=True, slots=True)
class CheckoutRecord:
    """SESSION#{id} / METADATA: the proof this gateway made the session, whose order it is
    (never the session's metadata) and what it must charge (None: made by an earlier version)."""
    session_id: str
    quote_signature: str | None
    user_id: str | None
    guest_email: str | None  # key form
    owner: str | None
    expected: ExpectedCharge | None
    created_at: int | None
    reservation: tuple[int, int] | None = None  # the stock hold's (generation, attempt); None: held nothing

    @property
    def key(self) -> keys.Key:
        return keys.session_pointer(self.session_id)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {keys.PK: self.key.pk, keys.SK: self.key.sk, keys.ENTITY: "SessionPointer",
                "quoteSignature": self.quote_signature, "stripeSessionId": self.session_id,
                "userId": self.user_id, "guestEmail": self.guest_email, "owner": self.owner,
                "expected": self.expected.to_item() if self.expected else None, "createdAt": self.created_at}
        if self.reservation is not None:
            item["reservation"] = list(self.reservation)
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> CheckoutRecord:
        expected = item.get("expected")
        held = item.get("reservation")
        return cls(item.get("stripeSessionId") or item[keys.PK].removeprefix(keys.SESSION_PREFIX),
                   item.get("quoteSignature") or None, item.get("userId") or None, item.get("guestEmail") or None,
                   item.get("owner"), ExpectedCharge.from_item(expected) if expected is not None else None,
                   item.get("createdAt"), (int(held[0]), int(held[1])) if isinstance(held, list) else None)

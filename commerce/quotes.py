"""Signed cart quotes.

A quote is a priced cart frozen for QUOTE_TTL_MINUTES. It is stored under
``QUOTE#{signature}``/``CACHE``, and its signature is an HMAC-SHA256 (keyed with
QUOTE_SIGNING_SECRET) over its canonical content, so the store's copy can be checked
against the key it sits under. Two checks, used by checkout and tested as such:
``load_quote`` returns the genuine quote or raises QuoteRejected with QUOTE_INVALID
(malformed signature, or content that does not match it) or QUOTE_NOT_FOUND, and
``refuse_expired`` raises QUOTE_EXPIRED for a quote past its time.

The stored item outlives the quote by a day, so an expired quote is reported as
expired rather than unknown; after that the table's TTL removes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from commerce.errors import ErrorCode
from commerce.pricing import PricedCart, PricedLine
from store import Store, keys

EXPIRED_QUOTE_KEPT_SECONDS = 24 * 3600
SIGNATURE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes, base64url, unpadded


class QuoteRejected(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Quote:
    signature: str
    cart: PricedCart
    created_at: int  # epoch seconds
    valid_until: int  # epoch seconds
    nonce: str

    def expired(self, now: int) -> bool:
        return now >= self.valid_until


def content(cart: PricedCart, created_at: int, valid_until: int, nonce: str) -> dict[str, Any]:
    """What the signature covers: everything a checkout will charge from."""
    return {
        "v": 1,
        "currency": cart.currency,
        "items": [
            {"sku": l.sku, "name": l.name, "quantity": l.quantity, "unitPrice": l.unit_price,
             "listUnitPrice": l.list_unit_price, "total": l.total, "discount": l.discount}
            for l in cart.lines
        ],
        "pricingSummary": {"subtotal": cart.subtotal, "discount": cart.discount,
                           "total": cart.total, "currency": cart.currency},
        "createdAt": created_at,
        "validUntil": valid_until,
        "nonce": nonce,
    }


def sign(secret: str, body: dict[str, Any]) -> str:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    mac = hmac.new(secret.encode(), canonical, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


async def create_quote(
    store: Store, secret: str, cart: PricedCart, *, now: int, ttl_minutes: int
) -> Quote:
    nonce = secrets.token_urlsafe(12)
    valid_until = now + ttl_minutes * 60
    body = content(cart, now, valid_until, nonce)
    signature = sign(secret, body)
    key = keys.quote(signature)
    item = {keys.PK: key.pk, keys.SK: key.sk, keys.ENTITY: "Quote", "signature": signature,
            **body, keys.EXPIRES_AT: valid_until + EXPIRED_QUOTE_KEPT_SECONDS}
    if not await store.put(item, if_absent=True):
        raise RuntimeError("quote signature collision")  # needs a repeated 96-bit nonce
    return Quote(signature, cart, now, valid_until, nonce)


async def load_quote(store: Store, secret: str, signature: str) -> Quote:
    """The stored quote, checked against its signature, expired or not."""
    if not isinstance(signature, str) or not SIGNATURE_PATTERN.match(signature):
        raise QuoteRejected(ErrorCode.QUOTE_INVALID, "This is not a quote signature.")
    item = await store.get(keys.quote(signature))
    if item is None:
        raise QuoteRejected(ErrorCode.QUOTE_NOT_FOUND, "No quote has this signature.")
    try:
        quote = _from_item(item)
        genuine = hmac.compare_digest(sign(secret, _content_of(item)), signature)
    except (KeyError, TypeError, ValueError):
        genuine = False
    if not genuine:
        raise QuoteRejected(ErrorCode.QUOTE_INVALID, "This quote does not match its signature.")
    return quote


def refuse_expired(quote: Quote, now: int) -> Quote:
    """The quote, unless it has expired (QUOTE_EXPIRED): checked before a new checkout
    session is made from it (an expired quote still shows the session it already has)."""
    if quote.expired(now):
        raise QuoteRejected(ErrorCode.QUOTE_EXPIRED, "This quote has expired; price the cart again.")
    return quote


def _content_of(item: dict[str, Any]) -> dict[str, Any]:
    names = ("v", "currency", "items", "pricingSummary", "createdAt", "validUntil", "nonce")
    return {name: item[name] for name in names}


def _from_item(item: dict[str, Any]) -> Quote:
    summary = item["pricingSummary"]
    lines = tuple(
        PricedLine(l["sku"], l["name"], l["quantity"], l["unitPrice"], l["listUnitPrice"],
                   l["total"], l["discount"])
        for l in item["items"]
    )
    cart = PricedCart(item["currency"], lines, summary["subtotal"], summary["discount"],
                      summary["total"])
    return Quote(item["signature"], cart, item["createdAt"], item["validUntil"], item["nonce"])

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
from dataclasses import dataclass, replace

from commerce.errors import ErrorCode
from commerce.pricing import PricedCart, PricedLine
from store import Store, keys
from store.records import QuoteLine, QuoteRecord, get_record, put_record

EXPIRED_QUOTE_KEPT_SECONDS = 24 * 3600
MISMATCH = "This quote does not match its signature."
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


def unsigned_record(cart: PricedCart, created_at: int, valid_until: int, nonce: str) -> QuoteRecord:
    """The stored quote before signing; its `content` is what the signature covers:
    everything a checkout will charge from."""
    lines = tuple(QuoteLine(p.sku, p.name, p.quantity, p.unit_price, p.list_unit_price, p.total, p.discount)
                  for p in cart.lines)
    return QuoteRecord.unsigned(cart.currency, lines, cart.subtotal, cart.discount, cart.total,
                                created_at=created_at, valid_until=valid_until, nonce=nonce,
                                expires_at=valid_until + EXPIRED_QUOTE_KEPT_SECONDS)


def sign(secret: str, content: bytes) -> str:
    """HMAC-SHA256 over the quote's canonical content (`QuoteRecord.content`)."""
    mac = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


async def create_quote(
    store: Store, secret: str, cart: PricedCart, *, now: int, ttl_minutes: int
) -> Quote:
    nonce = secrets.token_urlsafe(12)
    valid_until = now + ttl_minutes * 60
    unsigned = unsigned_record(cart, now, valid_until, nonce)
    record = replace(unsigned, signature=sign(secret, unsigned.content))
    if not await put_record(store, record, if_absent=True):
        raise RuntimeError("quote signature collision")  # needs a repeated 96-bit nonce
    return Quote(record.signature, cart, now, valid_until, nonce)


async def load_quote(store: Store, secret: str, signature: str) -> Quote:
    """The stored quote, checked against its signature, expired or not."""
    if not isinstance(signature, str) or not SIGNATURE_PATTERN.match(signature):
        raise QuoteRejected(ErrorCode.QUOTE_INVALID, "This is not a quote signature.")
    try:
        record = await get_record(store, QuoteRecord, keys.quote(signature))
    except (KeyError, TypeError, ValueError):  # not a whole quote: it was changed
        raise QuoteRejected(ErrorCode.QUOTE_INVALID, MISMATCH) from None
    if record is None:
        raise QuoteRejected(ErrorCode.QUOTE_NOT_FOUND, "No quote has this signature.")
    if not hmac.compare_digest(sign(secret, record.content), signature):
        raise QuoteRejected(ErrorCode.QUOTE_INVALID, MISMATCH)
    return quote_of(record)


def refuse_expired(quote: Quote, now: int) -> Quote:
    """The quote, unless it has expired (QUOTE_EXPIRED): checked before a new checkout
    session is made from it (an expired quote still shows the session it already has)."""
    if quote.expired(now):
        raise QuoteRejected(ErrorCode.QUOTE_EXPIRED, "This quote has expired; price the cart again.")
    return quote


def quote_of(record: QuoteRecord) -> Quote:
    lines = tuple(PricedLine(q.sku, q.name, q.quantity, q.unit_price, q.list_unit_price, q.total, q.discount)
                  for q in record.lines)
    cart = PricedCart(record.currency, lines, record.subtotal, record.discount, record.total)
    return Quote(record.signature, cart, record.created_at, record.valid_until, record.nonce)

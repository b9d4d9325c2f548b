"""The quote checks checkout makes (load_quote, refuse_expired), on both engines: valid,
tampered, expired, unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from commerce.catalog import load_catalog
from commerce.errors import ErrorCode
from commerce.pricing import CartLine, price_cart
from commerce.quotes import QuoteRejected, create_quote, load_quote, refuse_expired
from store import keys
from store.base import now_epoch

SECRET = "quote-secret-for-tests-0123456789abcdef"
CATALOG = load_catalog(Path(__file__).resolve().parent.parent / "catalog" / "products.json")


def cart():
    priced = price_cart(CATALOG, [CartLine("N-RED", 2), CartLine("BUN-STATEMENT-DUO", 1)])
    assert not isinstance(priced, list)
    return priced


async def verify_quote(store, secret, signature, *, now):
    """What checkout checks before it makes a session: a genuine quote, not expired."""
    return refuse_expired(await load_quote(store, secret, signature), now)


async def rejected(store, signature, now=None) -> ErrorCode:
    with pytest.raises(QuoteRejected) as caught:
        await verify_quote(store, SECRET, signature, now=now or now_epoch())
    return caught.value.code


async def test_a_fresh_quote_verifies_and_carries_its_prices(store):
    quote = await create_quote(store, SECRET, cart(), now=now_epoch(), ttl_minutes=15)
    checked = await verify_quote(store, SECRET, quote.signature, now=now_epoch())
    assert checked == quote
    assert checked.cart.total == 6000 + 5000
    assert checked.valid_until - checked.created_at == 15 * 60


async def test_identical_carts_get_distinct_quotes(store):
    first = await create_quote(store, SECRET, cart(), now=now_epoch(), ttl_minutes=15)
    second = await create_quote(store, SECRET, cart(), now=now_epoch(), ttl_minutes=15)
    assert first.signature != second.signature


@pytest.mark.parametrize("field, value", [
    ("pricingSummary", {"subtotal": 1, "discount": 0, "total": 1, "currency": "USD"}),
    ("validUntil", 4102444800),
    ("items", []),
    ("currency", "EUR"),
])
async def test_a_quote_whose_stored_content_was_changed_is_invalid(store, field, value):
    quote = await create_quote(store, SECRET, cart(), now=now_epoch(), ttl_minutes=15)
    item = await store.get(keys.quote(quote.signature))
    await store.put({**item, field: value})
    assert await rejected(store, quote.signature) is ErrorCode.QUOTE_INVALID


async def test_a_quote_signed_with_another_secret_is_invalid(store):
    quote = await create_quote(store, "another-secret-0123456789abcdefghijkl", cart(),
                               now=now_epoch(), ttl_minutes=15)
    assert await rejected(store, quote.signature) is ErrorCode.QUOTE_INVALID


async def test_a_stored_item_missing_fields_is_invalid_not_a_crash(store):
    quote = await create_quote(store, SECRET, cart(), now=now_epoch(), ttl_minutes=15)
    item = await store.get(keys.quote(quote.signature))
    del item["pricingSummary"]
    await store.put(item)
    assert await rejected(store, quote.signature) is ErrorCode.QUOTE_INVALID


async def test_an_expired_quote_is_expired(store):
    quote = await create_quote(store, SECRET, cart(), now=now_epoch() - 16 * 60, ttl_minutes=15)
    assert await rejected(store, quote.signature) is ErrorCode.QUOTE_EXPIRED


async def test_a_quote_is_valid_until_the_second_it_expires(store):
    now = now_epoch()
    quote = await create_quote(store, SECRET, cart(), now=now, ttl_minutes=1)
    await verify_quote(store, SECRET, quote.signature, now=now + 59)
    assert await rejected(store, quote.signature, now=now + 60) is ErrorCode.QUOTE_EXPIRED


async def test_unknown_and_malformed_signatures(store):
    assert await rejected(store, "A" * 43) is ErrorCode.QUOTE_NOT_FOUND
    for garbage in ["", "short", "A" * 44, "+" * 43, "é" * 43, None, 42]:
        assert await rejected(store, garbage) is ErrorCode.QUOTE_INVALID


async def test_a_quote_long_past_expiry_is_gone(store):
    quote = await create_quote(store, SECRET, cart(), now=now_epoch() - 2 * 86400, ttl_minutes=15)
    assert await rejected(store, quote.signature) is ErrorCode.QUOTE_NOT_FOUND

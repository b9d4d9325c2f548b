"""Server-side cart pricing. The client sends SKUs and quantities, nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commerce.catalog import Catalog
from commerce.errors import ErrorCode, Problem, shown
from store.keys import MAX_SKU_BYTES, fits

MAX_LINES = 50
MIN_QUANTITY, MAX_QUANTITY = 1, 99
MAX_TOTAL = 99_999_999  # Stripe's ceiling for one USD charge, in cents
# Stripe's minimum charge per presentment currency, in minor units (its currencies guide);
# a cart under it could be quoted but never paid. Other currencies: the common 50.
MINIMUM_CHARGE = {
    "USD": 50, "AED": 200, "AUD": 50, "BGN": 100, "BRL": 50, "CAD": 50, "CHF": 50, "CZK": 1500,
    "DKK": 250, "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "INR": 50, "JPY": 50, "MXN": 1000,
    "MYR": 200, "NOK": 300, "NZD": 50, "PLN": 200, "RON": 200, "SEK": 300, "SGD": 50, "THB": 1000,
}
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
                          "VND", "VUV", "XAF", "XOF", "XPF"})


@dataclass(frozen=True, slots=True)
class CartLine:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    name: str
    quantity: int
    unit_price: int  # what one unit costs (the bundle price for a bundle)
    list_unit_price: int  # the parts bought separately
    total: int  # unit_price * quantity: what this line charges
    discount: int  # (list_unit_price - unit_price) * quantity


@dataclass(frozen=True, slots=True)
class PricedCart:
    currency: str
    lines: tuple[PricedLine, ...]
    subtotal: int  # before bundle savings
    discount: int
    total: int  # subtotal - discount == sum of line totals


def price_cart(catalog: Catalog, lines: Sequence[CartLine]) -> PricedCart | list[Problem]:
    """Price a cart, or say everything that is wrong with it at once. Problems name the
    lines by position: ("lines",) for the cart, ("lines", 2, "quantity") for one line."""
    if not lines:
        return [Problem(("lines",), ErrorCode.CART_EMPTY, "The cart is empty.")]
    if len(lines) > MAX_LINES:
        return [Problem(("lines",), ErrorCode.INVALID_INPUT,
                        f"A cart holds at most {MAX_LINES} lines; this one has {len(lines)}.")]
    problems: list[Problem] = []
    merged: dict[str, int] = {}
    first_index: dict[str, int] = {}
    for index, line in enumerate(lines):
        at = ("lines", index)
        product = catalog.get(line.sku) if fits(line.sku, MAX_SKU_BYTES) else None
        if not fits(line.sku, MAX_SKU_BYTES):
            problems.append(Problem((*at, "sku"), ErrorCode.INVALID_INPUT,
                                    f"A SKU is at most {MAX_SKU_BYTES} bytes (UTF-8)."))
        elif product is None:
            problems.append(Problem((*at, "sku"), ErrorCode.UNKNOWN_SKU,
                                    f"No product has SKU {shown(line.sku)}."))
        elif not product.active:
            problems.append(Problem((*at, "sku"), ErrorCode.PRODUCT_UNAVAILABLE,
                                    f"{product.name} ({product.sku}) is no longer sold."))
        if not MIN_QUANTITY <= line.quantity <= MAX_QUANTITY:
            problems.append(Problem((*at, "quantity"), ErrorCode.QUANTITY_OUT_OF_RANGE,
                                    f"Quantity must be {MIN_QUANTITY} to {MAX_QUANTITY}."))
        merged[line.sku] = merged.get(line.sku, 0) + line.quantity
        first_index.setdefault(line.sku, index)
    if problems:
        return problems
    for sku, quantity in merged.items():
        if quantity > MAX_QUANTITY:
            problems.append(Problem(("lines", first_index[sku], "quantity"),
                                    ErrorCode.QUANTITY_OUT_OF_RANGE,
                                    f"{sku} adds up to {quantity}; at most {MAX_QUANTITY} per product."))
    if problems:
        return problems
    priced = tuple(_price_line(catalog, sku, quantity) for sku, quantity in merged.items())
    total = sum(line.total for line in priced)
    if total > MAX_TOTAL:
        return [Problem(("lines",), ErrorCode.INVALID_INPUT,
                        "The cart total is above what one payment can take; split the order.")]
    minimum = MINIMUM_CHARGE.get(catalog.currency, 50)
    if total < minimum:
        return [Problem(("lines",), ErrorCode.BELOW_MINIMUM_CHARGE,
                        f"The cart comes to {shown_amount(total, catalog.currency)}; card payments start at "
                        f"{shown_amount(minimum, catalog.currency)}. Add something to the cart.")]
    discount = sum(line.discount for line in priced)
    return PricedCart(catalog.currency, priced, total + discount, discount, total)


def shown_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount} {currency}"
    return f"{amount // 100}.{amount % 100:02d} {currency}"


def _price_line(catalog: Catalog, sku: str, quantity: int) -> PricedLine:
    product = catalog.get(sku)
    assert product is not None
    return PricedLine(
        sku=sku, name=product.name, quantity=quantity, unit_price=product.price,
        list_unit_price=product.list_price, total=product.price * quantity,
        discount=(product.list_price - product.price) * quantity,
    )

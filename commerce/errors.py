"""Expected business failures, reported to clients as userErrors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ErrorCode(str, Enum):
    """The contract's UserErrorCode values (and any we add)."""

    INVALID_INPUT = "INVALID_INPUT"
    CART_EMPTY = "CART_EMPTY"
    UNKNOWN_SKU = "UNKNOWN_SKU"
    QUANTITY_OUT_OF_RANGE = "QUANTITY_OUT_OF_RANGE"
    QUOTE_NOT_FOUND = "QUOTE_NOT_FOUND"
    QUOTE_EXPIRED = "QUOTE_EXPIRED"
    QUOTE_INVALID = "QUOTE_INVALID"
    PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"
    SYNC_IN_PROGRESS = "SYNC_IN_PROGRESS"
    BELOW_MINIMUM_CHARGE = "BELOW_MINIMUM_CHARGE"
    QUOTE_IN_USE = "QUOTE_IN_USE"  # another shopper's checkout holds the quote
    # the shop's side of an order (commerce/fulfillment.py, commerce/refunds.py)
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    ORDER_NOT_SHIPPABLE = "ORDER_NOT_SHIPPABLE"  # not paid, refunded, disputed or needing review
    FULFILLMENT_NOT_ALLOWED = "FULFILLMENT_NOT_ALLOWED"  # fulfilment moves forward only
    ORDER_NOT_REFUNDABLE = "ORDER_NOT_REFUNDABLE"  # not paid, or disputed
    REFUND_TOO_LARGE = "REFUND_TOO_LARGE"  # more than total - refunded - charged back
    REFUND_REFUSED = "REFUND_REFUSED"  # Stripe would not make it
    ORDER_ALREADY_SHIPPED = "ORDER_ALREADY_SHIPPED"  # cancelOrder after shipping
    OUT_OF_STOCK = "OUT_OF_STOCK"  # not enough of a piece left for this checkout
    NOT_STOCKED = "NOT_STOCKED"  # setStock on a SKU whose stock is not counted (or a bundle)


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with an input, naming the field in the rule's own terms: a path into
    the arguments it was given, e.g. ("lines", 0, "sku"), or None for the whole request.
    The GraphQL edge (resolvers/) turns it into the client's input path."""

    field: tuple[str | int, ...] | None
    code: ErrorCode
    message: str


def shown(text: str, limit: int = 40) -> str:
    """User input quoted back in a message: printable and short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(clean if len(clean) <= limit else clean[:limit] + "…")

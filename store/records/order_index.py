"""Where an order stands in the shop's order indexes (`store/keys.py`: orders-index,
orderState-index, orderEmail-index): attributes written on the order's own item
(ORDER#{id} / METADATA) only, never on its owner's listing copy, so each order is listed
once. Every write of the order recomputes them, so a status or fulfilment change moves it
between partitions in the same write; orders written before them are listed by
`gateway index-orders` (jobs/index_orders.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from store import keys

if TYPE_CHECKING:
    from store.records.orders import Order

OTHER_STATUS = "OTHER"  # a status set by hand (not one of ours): listed, under its own partition
ORDER_STATE = keys.ORDER_STATE_INDEX.partition
INDEX_ATTRIBUTES = frozenset({keys.ORDERS_INDEX.partition, ORDER_STATE, keys.ORDER_EMAIL_INDEX.partition,
                              keys.LISTED_AT})


def fulfillment_status(order: Order) -> str:
    """The one place the listing reads an order's fulfilment (UNFULFILLED when nothing was done)."""
    return order.fulfillment.status


def listed_status(order: Order, statuses: frozenset[str]) -> str:
    return order.status if order.status in statuses else OTHER_STATUS


def index_attributes(order: Order, statuses: frozenset[str]) -> dict[str, Any]:
    attributes = {
        keys.ORDERS_INDEX.partition: keys.ALL_ORDERS,
        ORDER_STATE: keys.order_state(listed_status(order, statuses), fulfillment_status(order)),
        keys.LISTED_AT: keys.listed_at(order.created_at, order.order_id),
    }
    email = order.email or (order.filed_email if order.guest else None)
    if email:
        attributes[keys.ORDER_EMAIL_INDEX.partition] = keys.guest_email(email)
    return attributes

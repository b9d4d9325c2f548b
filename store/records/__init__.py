"""Typed records: what the table holds, each with its key (built by store/keys.py) and a
`to_item()` / `from_item()` pair. This package is the only place attribute names are
spelled; the layers above see records, never items.

    orders.py         Order, OrderLine, ShippingAddress, PaymentPointer; reading without trust
    lambda_orders.py  orders in the replaced Lambdas' shape, read as ours
    fulfillment.py    Fulfillment: shipping and delivery, apart from the payment status (stored on the order)
    facts.py          Facts: what Stripe told us about an order's money (stored on the order)
    profiles.py       Profile, Address, the guest-order counter
    quotes.py         QuoteRecord, QuoteClaim, QuoteSession, CheckoutRecord (SESSION#), ExpectedCharge
    events.py         EventReceipt, EventFailures, DeadLetter
    system.py         SyncCheckpoint, SyncLease, CatalogPrices
    access.py         get / put / update records through the store's item interface
"""

from store.records.access import get_record, put_record, record_of, update_record, version_at
from store.records.events import DeadLetter, EventFailures, EventReceipt
from store.records.facts import Facts, Movement, Unreadable
from store.records.fulfillment import FULFILLMENT_STATUSES, Fulfillment
from store.records.orders import STATUSES, Order, OrderLine, PaymentPointer, ShippingAddress, readable, unreadable
from store.records.profiles import Address, Profile, guest_order_count
from store.records.quotes import CheckoutRecord, ExpectedCharge, QuoteClaim, QuoteLine, QuoteRecord, QuoteSession
from store.records.system import CatalogPrice, CatalogPrices, SyncCheckpoint, SyncLease, SyncRun

__all__ = [
    "FULFILLMENT_STATUSES",
    "STATUSES",
    "Address",
    "CatalogPrice",
    "CatalogPrices",
    "CheckoutRecord",
    "DeadLetter",
    "EventFailures",
    "EventReceipt",
    "ExpectedCharge",
    "Facts",
    "Fulfillment",
    "Movement",
    "Order",
    "OrderLine",
    "PaymentPointer",
    "Profile",
    "QuoteClaim",
    "QuoteLine",
    "QuoteRecord",
    "QuoteSession",
    "ShippingAddress",
    "SyncCheckpoint",
    "SyncLease",
    "SyncRun",
    "Unreadable",
    "get_record",
    "guest_order_count",
    "put_record",
    "readable",
    "record_of",
    "unreadable",
    "update_record",
    "version_at",
]
